"""--device: auto takes a GPU when torch sees one, cuda without one is one line before anything is
written, a sandboxed CUDA worker gets the GPU's device files, and checkpoints written on a GPU load on a
CPU-only machine (CPU tests: the GPU side is bench/device_check.py, run by hand on a GPU machine)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from tools import devices, sandbox


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
@pytest.mark.parametrize("how", [["--device", "cuda"], []])
def test_cuda_without_a_gpu_is_one_line_and_writes_nothing(tmp_path, how):
    env = {"PATH": "/usr/bin:/bin", **({} if how else {devices.DEVICE_ENV: "cuda"})}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--env", "CartPole-v1", "--runs-dir", str(tmp_path / "runs"), *how],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "'cuda' asked for" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_cuda_worker_gets_the_gpu_device_files_and_no_address_space_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(devices, "gpu_device_nodes", lambda: ["/dev/nvidia0", "/dev/nvidiactl"])
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: "/usr/bin/bwrap")
    limits = []
    monkeypatch.setattr(sandbox, "_limits", lambda memory_bytes, cpu: limits.append(memory_bytes))
    monkeypatch.setattr(sandbox.subprocess, "Popen", lambda *a, **k: a[0])
    for choice, binds, unlimited in (("auto", True, True), ("cuda", True, True), ("cpu", False, False)):
        monkeypatch.setenv(devices.DEVICE_ENV, choice)
        cmd = sandbox.start("tools.train_worker", [], tmp_path / "worker.log")
        assert ("--dev-bind" in cmd and "/dev/nvidiactl" in cmd) is binds, (choice, cmd)
        assert (limits[-1] == sandbox.resource.RLIM_INFINITY) is unlimited, choice
