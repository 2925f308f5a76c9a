"""
LSTMs under CPU autocast on every x86-64 CPU.

oneDNN has a bfloat16 LSTM kernel only on CPUs with AVX-512 (BF16) or AMX; on an AVX2-only
CPU an `nn.LSTM` under `torch.autocast("cpu", dtype=torch.bfloat16)` raises "could not
create a primitive descriptor for the LSTM forward propagation primitive". `run_lstm` keeps
such an LSTM in float32 there (autocast off for the LSTM alone, its input cast to float32);
the other layers stay under autocast. We fall back rather than raise because bfloat16 is an
optimisation, not a result: a user who asked for mixed precision gets the same model, with
the LSTMs at full precision, and a warning once per process.
"""
import functools
import logging
from typing import Tuple

import torch

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def cpu_bfloat16_lstm_supported() -> bool:
    """
    Whether this CPU runs an `nn.LSTM` forward and backward under bfloat16 autocast. Probed
    once per process on a tiny LSTM (oneDNN decides by the instructions it may use, which
    `ONEDNN_MAX_CPU_ISA` can lower, so asking the kernel is the reliable test).
    """
    # Out of any inference mode or no-grad context of the caller: the probe runs backward.
    with torch.inference_mode(False), torch.enable_grad():
        lstm = torch.nn.LSTM(2, 2, batch_first=True)
        inputs = torch.zeros(1, 2, 2, requires_grad=True)
        try:
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
                outputs, _ = lstm(inputs)
            outputs.float().sum().backward()
        except RuntimeError as error:
            if "primitive descriptor" not in str(error):
                raise
            logger.warning(
                "This CPU has no bfloat16 LSTM kernel (oneDNN needs AVX-512 BF16 or AMX; %s): "
                "under CPU autocast the LSTMs run in float32, the other layers in bfloat16.",
                str(error).split(".")[0],
            )
            return False
    return True


def lstm_falls_back(inputs: torch.Tensor) -> bool:
    """Whether `run_lstm` runs an LSTM on `inputs` in float32 instead of under the active
    CPU bfloat16 autocast."""
    return (
        inputs.device.type == "cpu"
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and not cpu_bfloat16_lstm_supported()
    )


def run_lstm(lstm: torch.nn.LSTM, inputs: torch.Tensor) -> Tuple[torch.Tensor, Tuple]:
    """
    `lstm(inputs)`, or, under CPU bfloat16 autocast on a CPU without a bfloat16 LSTM kernel
    (`lstm_falls_back`), the same with autocast off and `inputs` in float32.

    # Parameters

    lstm : `torch.nn.LSTM`
    inputs : `torch.Tensor`
        Shape: (batch_size, length, input_size) for a `batch_first` LSTM.

    # Returns

    What `lstm` returns: the states (float32 when it fell back) and the final `(h, c)`.
    """
    if lstm_falls_back(inputs):
        with torch.autocast(device_type="cpu", enabled=False):
            return lstm(inputs.float())
    return lstm(inputs)
