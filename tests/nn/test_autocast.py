import os
import subprocess
import sys

import pytest
import torch

from biomtl_allennlp.nn.autocast import cpu_bfloat16_lstm_supported, lstm_falls_back, run_lstm
from tests.conftest import PROJECT_ROOT


def test_run_lstm_equals_the_lstm_without_autocast():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    inputs = torch.randn(2, 5, 3)
    expected, (h, c) = lstm(inputs)
    outputs, (h2, c2) = run_lstm(lstm, inputs)
    assert not lstm_falls_back(inputs)
    assert torch.equal(outputs, expected) and torch.equal(h, h2) and torch.equal(c, c2)


def test_run_lstm_under_cpu_bfloat16_autocast():
    """Where the CPU has a bfloat16 LSTM kernel the LSTM runs in bfloat16 (what autocast
    asks); elsewhere in float32, equal to the LSTM without autocast."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    inputs = torch.randn(2, 5, 3, requires_grad=True)
    expected, _ = lstm(inputs)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        falls_back = lstm_falls_back(inputs)
        outputs, _ = run_lstm(lstm, inputs)
    assert falls_back == (not cpu_bfloat16_lstm_supported())
    if falls_back:
        assert outputs.dtype == torch.float32
        torch.testing.assert_close(outputs, expected)
    else:
        assert outputs.dtype == torch.bfloat16
        torch.testing.assert_close(outputs.float(), expected, rtol=0.05, atol=0.02)
    outputs.float().sum().backward()
    assert torch.isfinite(inputs.grad).all()


_AVX2_CHECK = """
import torch
from biomtl_allennlp.nn.autocast import cpu_bfloat16_lstm_supported, run_lstm
lstm = torch.nn.LSTM(3, 4, batch_first=True)
inputs = torch.randn(2, 5, 3)
try:
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        lstm(inputs)
    raw = "ran"
except RuntimeError as error:
    raw = "failed" if "primitive descriptor" in str(error) else repr(error)
with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
    outputs, _ = run_lstm(lstm, inputs)
print(raw, cpu_bfloat16_lstm_supported(), outputs.dtype)
"""


def test_an_avx2_only_cpu_falls_back_to_float32():
    """oneDNN held to AVX2 (`ONEDNN_MAX_CPU_ISA=AVX2`, what an AVX2-only CPU has): a plain
    LSTM under bfloat16 autocast raises, the probe says so, and `run_lstm` runs in float32.
    This covers the fallback on machines whose own CPU has the bfloat16 kernel."""
    environment = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", _AVX2_CHECK], cwd=PROJECT_ROOT, env=environment,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["failed", "False", "torch.float32"]


def test_the_probe_answers_the_same_inside_inference_mode():
    cpu_bfloat16_lstm_supported.cache_clear()
    with torch.inference_mode():
        inside = cpu_bfloat16_lstm_supported()
    cpu_bfloat16_lstm_supported.cache_clear()
    assert inside == cpu_bfloat16_lstm_supported()
