"""A training worker starts without compiling Tianshou's numba kernels again (``tools/numba_cache.py``)."""

import subprocess
import sys

from conftest import ROOT

CHECK = """
import tools.train_worker
from tianshou.data.buffer import manager
from tianshou.algorithm import algorithm_base
print(type(manager._prev_index._cache).__name__, type(algorithm_base._gae._cache).__name__)
"""


def test_the_worker_caches_tianshous_numba_kernels_on_disk():
    """The cache must be switched on before Tianshou is imported: an import sorter once moved it after
    Tianshou's imports, and every worker then spent ~10-16 s compiling (the CI's time doubled)."""
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["FunctionCache", "FunctionCache"]
