"""Training speed options: mixed precision, channels_last, torch.compile with a fallback, fused optimisers.

None of them changes what a network learns beyond float tolerance; which ones pay off depends on the hardware
(see docs/performance.md and ``scripts/benchmark.py``).
"""
import inspect
import logging
from typing import Any

import torch
from torch import nn

from basicsr.utils.errors import OptionError
from basicsr.utils.registry import OPTIMIZER_REGISTRY


def check_amp(amp: str, device: torch.device, logger: logging.Logger) -> None:
    """Refuse a precision the device cannot run; warn where it runs but is emulated (slower than float32)."""
    if amp == 'bf16' and device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        raise OptionError(f'train.amp: bf16 is not supported by {torch.cuda.get_device_name(device)}; '
                          "use 'fp16' or 'none'.", key_path='train.amp')
    if amp == 'bf16' and device.type == 'cpu' and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        logger.warning('train.amp: bf16 on a CPU without native bf16 instructions (AVX512-BF16 or AMX) is '
                       'emulated and usually several times slower than float32.')
    if amp == 'fp16' and device.type == 'cpu' and not torch.ops.mkldnn._is_mkldnn_fp16_supported():
        logger.warning('train.amp: fp16 on a CPU without native fp16 instructions (AVX512-FP16 or AMX) is '
                       'emulated and usually several times slower than float32.')


def make_grad_scaler(amp: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for fp16 training (gradients of small losses underflow in fp16); None otherwise."""
    return torch.amp.GradScaler(device.type) if amp == 'fp16' else None


def to_channels_last(net: nn.Module) -> nn.Module:
    """Store the 4-D weights of ``net`` as NHWC, the layout convolution kernels run fastest on (GPU tensor cores,
    oneDNN on CPU). Inputs should then be channels_last too (``SRModel.feed_data`` does that)."""
    return net.to(memory_format=torch.channels_last)


class CompiledNetwork(nn.Module):
    """``torch.compile`` of a network that falls back to running it eagerly if compiling fails.

    Compilation happens at the first call (a missing C++ compiler or Triton shows only then), so the fallback
    is decided there: the error is logged once and the plain network runs from then on. An error the eager
    network raises too is a real one and propagates. The wrapped network is ``_orig_mod``, as for
    ``torch.compile``'s own wrapper, so ``BaseModel.get_bare_model`` and checkpoints see the plain network.
    """

    def __init__(self, net: nn.Module, mode: str | None, name: str, logger: logging.Logger) -> None:
        super().__init__()
        self._orig_mod = net
        self.name = name
        self.logger = logger
        self.compiled = True
        try:
            compiled = torch.compile(net, mode=mode)
        except Exception as err:  # noqa: BLE001  (any failure of the optional backend means: run eagerly)
            compiled = None
            self._fall_back(err)
        object.__setattr__(self, '_compiled_forward', compiled)  # not a submodule: one path to each parameter

    def _fall_back(self, err: Exception) -> None:
        self.compiled = False
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ''
        self.logger.warning(f'torch.compile of {self.name} is unavailable ({type(err).__name__}: {first_line}); '
                            'running it without compilation.')

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self.compiled:
            return self._orig_mod(*args, **kwargs)
        try:
            return self._compiled_forward(*args, **kwargs)
        except Exception as err:  # noqa: BLE001  (re-raised below when the eager network fails as well)
            output = self._orig_mod(*args, **kwargs)
            self._fall_back(err)
            return output


def compile_network(net: nn.Module, setting: bool | str, name: str, logger: logging.Logger) -> nn.Module:
    """``net`` compiled as ``train.compile`` asks (``true``: default mode, a string: that mode), else ``net``."""
    if setting is False:
        return net
    mode = None if setting is True else setting
    logger.info(f"Compiling {name} with torch.compile (mode {mode or 'default'}); the first iterations are slow.")
    return CompiledNetwork(net, mode, name, logger)


def build_fast_optimizer(optim_opt: dict[str, Any], key_path: str,
                         params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimiser of ``optim_opt`` (``type`` plus arguments), with ``fused=True`` added where the class has a
    fused kernel and the option file sets neither ``fused`` nor ``foreach``; without it where the parameters'
    device has no such kernel.

    Fused Adam/AdamW/SGD update all parameters in a few kernels (on a 2-core CPU about 3.5x faster than the
    per-parameter loop, on GPUs the recommended choice).
    """
    cls = OPTIMIZER_REGISTRY.get(optim_opt.get('type'), key_path=f'{key_path}.type')
    if not {'fused', 'foreach'} & set(optim_opt) and 'fused' in inspect.signature(cls).parameters:
        try:
            return OPTIMIZER_REGISTRY.build({**optim_opt, 'fused': True}, key_path, params=params)
        except RuntimeError:  # no fused kernel for this device or these parameters
            pass
    return OPTIMIZER_REGISTRY.build(optim_opt, key_path, params=params)
