"""Accelerator resolution, with CUDA / MPS / TPU runtimes faked where this machine has none."""

import os
import subprocess
import sys
import types

import pytest
import torch

from qhybrid.classical import accelerators as acc_mod
from qhybrid.classical import available_accelerators, describe, resolve_accelerator, set_threads


@pytest.fixture(autouse=True)
def _fresh_detection():
    acc_mod._reset_detection()
    yield
    acc_mod._reset_detection()


def _fake_xla(monkeypatch, device_type="TPU"):
    calls = {"sync": 0}
    xla = types.ModuleType("torch_xla")
    xla.__spec__ = types.SimpleNamespace(name="torch_xla")
    xla.device = lambda: torch.device("cpu")

    def sync():
        calls["sync"] += 1

    xla.sync = sync
    runtime = types.ModuleType("torch_xla.runtime")
    runtime.device_type = lambda: device_type
    xla.runtime = runtime
    monkeypatch.setitem(sys.modules, "torch_xla", xla)
    monkeypatch.setitem(sys.modules, "torch_xla.runtime", runtime)
    monkeypatch.setattr(
        acc_mod.importlib.util, "find_spec", lambda name: object() if name == "torch_xla" else None
    )
    return calls


def test_cpu_and_auto_on_cpu_machine(monkeypatch):
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 0)
    monkeypatch.setattr(acc_mod, "_mps_available", lambda: False)
    monkeypatch.setattr(acc_mod, "_tpu", lambda: None)
    a = resolve_accelerator("auto")
    assert a.kind == "cpu" and a.device == torch.device("cpu") and a.type == "cpu"
    assert resolve_accelerator(" CPU ").kind == "cpu"
    assert resolve_accelerator(torch.device("cpu")).kind == "cpu"
    assert available_accelerators() == ["cpu"]
    assert resolve_accelerator(a) is a


def test_auto_prefers_cuda_then_tpu_then_mps(monkeypatch):
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 2)
    monkeypatch.setattr(acc_mod, "_mps_available", lambda: True)
    monkeypatch.setattr(acc_mod, "_tpu", lambda: (torch.device("xla", 0), "torch_xla"))
    assert resolve_accelerator("auto").device == torch.device("cuda", 0)
    assert resolve_accelerator("cuda:1").device == torch.device("cuda", 1)
    assert resolve_accelerator("gpu").kind == "cuda"
    assert available_accelerators() == ["cuda:0", "cuda:1", "tpu", "mps", "cpu"]
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 0)
    a = resolve_accelerator("auto")
    assert a.kind == "tpu" and a.is_xla
    monkeypatch.setattr(acc_mod, "_tpu", lambda: None)
    assert resolve_accelerator("auto").kind == "mps"
    with pytest.raises(ValueError, match=r"'cuda:2' is not available.*2 CUDA device"):
        monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 2)
        resolve_accelerator("cuda:2")


def test_absent_and_unknown_names(monkeypatch):
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 0)
    monkeypatch.setattr(acc_mod, "_mps_available", lambda: False)
    monkeypatch.setattr(acc_mod, "_tpu", lambda: None)
    with pytest.raises(ValueError, match=r"'cuda' is not available.*no CUDA device.*\['cpu'\]"):
        resolve_accelerator("cuda")
    with pytest.raises(ValueError, match=r"'tpu' is not available.*\['cpu'\]"):
        resolve_accelerator("tpu")
    with pytest.raises(ValueError, match=r"'mps' is not available"):
        resolve_accelerator("mps")
    with pytest.raises(ValueError, match=r"unknown accelerator 'quantum'.*allowed: auto, cpu"):
        resolve_accelerator("quantum")
    with pytest.raises(ValueError, match=r"unknown accelerator 'cpu:1'"):
        resolve_accelerator("cpu:1")
    with pytest.raises(ValueError, match="non-negative integer"):
        resolve_accelerator("cuda:x")
    with pytest.raises(TypeError, match="got int"):
        resolve_accelerator(3)


def test_torch_xla_tpu_detected_only_when_runtime_reports_tpu(monkeypatch):
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 0)
    calls = _fake_xla(monkeypatch, device_type="CPU")
    assert "tpu" not in available_accelerators()
    acc_mod._reset_detection()
    _fake_xla(monkeypatch, device_type="TPU")
    a = resolve_accelerator("tpu")
    assert a.kind == "tpu" and a.runtime == "torch_xla"
    calls = _fake_xla(monkeypatch, device_type="TPU")
    a.sync()
    a.synchronize()
    assert calls["sync"] == 2


def test_torch_accelerator_tpu(monkeypatch):
    tpu = types.SimpleNamespace(
        type="tpu", index=0
    )  # torch.device("tpu") exists only once TorchTPU registers
    fake = types.SimpleNamespace(
        is_available=lambda: True,
        current_accelerator=lambda: tpu,
    )
    monkeypatch.setattr(torch, "accelerator", fake)
    found = acc_mod._tpu()
    assert found == (tpu, "torch.accelerator")
    monkeypatch.setattr(acc_mod, "_cuda_count", lambda: 0)
    a = resolve_accelerator("auto")
    assert a.kind == "tpu" and a.device is tpu and not a.is_xla


def test_import_classical_is_light():
    code = (
        "import sys, qhybrid.classical; "
        "bad = [m for m in ('torch', 'torch_xla', 'qhybrid.classical.accelerators') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _pin_cores(monkeypatch, n):
    """Make set_threads see ``n`` usable cores, whatever this host has."""
    monkeypatch.setattr(acc_mod.os, "cpu_count", lambda: n)
    if hasattr(acc_mod.os, "sched_getaffinity"):
        monkeypatch.setattr(acc_mod.os, "sched_getaffinity", lambda pid: set(range(n)))


def test_set_threads_and_describe(monkeypatch):
    # set_threads writes OMP_NUM_THREADS for child processes; setting it here first makes monkeypatch
    # restore the old value (or its absence) after the test instead of leaking it into later tests
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
        _pin_cores(monkeypatch, 8)
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")
        assert set_threads() == 1  # fewer cores than local processes: still one thread each
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
        assert set_threads() == 2
        monkeypatch.delenv("LOCAL_WORLD_SIZE")
        assert set_threads() == 8 and os.environ["OMP_NUM_THREADS"] == "8"
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="thread count must be >= 1, got 0"):
        set_threads(0)
    info = describe()
    import json

    json.dumps(info)
    assert info["available"][-1] == "cpu" and info["torch"] == torch.__version__
