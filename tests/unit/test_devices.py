"""--device: auto takes a GPU when torch sees one, cuda without one is one line before anything is
written, a sandboxed CUDA worker gets the GPU's device files, and checkpoints written on a GPU load on a
CPU-only machine (CPU tests: the GPU side is bench/device_check.py, run by hand on a GPU machine)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from tools import devices
from tools.checkpoint_io import load_checkpoint, save_atomic


def test_auto_takes_cuda_only_when_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.resolve("auto") == "cpu" and devices.resolve("cpu") == "cpu"
    with pytest.raises(devices.DeviceError, match="'cuda' asked for"):
        devices.resolve("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.resolve("auto") == "cuda" and devices.resolve("cpu") == "cpu"
    monkeypatch.setenv(devices.DEVICE_ENV, "tpu")
    with pytest.raises(devices.DeviceError, match="AGENT2_DEVICE='tpu'"):
        devices.resolve()


def _as_if_saved_on_cuda(path: Path) -> None:
    """Rewrite a CPU checkpoint's storage locations to cuda:0, as torch.save writes them on a GPU."""
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in entries if n.endswith("data.pkl"))
    assert b"X\x03\x00\x00\x00cpu" in entries[pkl]
    entries[pkl] = entries[pkl].replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    path.write_bytes(out.getvalue())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks loading on a machine without a GPU")
def test_a_checkpoint_written_on_a_gpu_loads_on_the_cpu(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = tmp_path / "policy.pt"
    save_atomic({"algorithm": net.state_dict()}, path)
    _as_if_saved_on_cuda(path)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(path, weights_only=False)  # what a plain load does with it here
    state = load_checkpoint(path, fallback=False)
    assert state is not None
    other = torch.nn.Linear(3, 2)
    other.load_state_dict(state["algorithm"])
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values(), strict=False))
