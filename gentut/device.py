"""Where a model runs and at what precision, and how a run is made reproducible.

Nothing here runs at import: the device is probed only when `pick_device` is called.
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Any, ContextManager, Mapping

import numpy as np
import torch

__all__ = [
    "pick_device", "Precision", "pick_precision", "autocast", "seed_everything", "forked_rng", "rng_state",
    "set_rng_state",
]


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    `prefer` (or the environment variable ``GENTUT_DEVICE``) forces one, for example ``"cpu"``
    to compare against a GPU run on the same machine.
    """
    choice = prefer if prefer is not None else os.environ.get("GENTUT_DEVICE")
    if choice is not None:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} was asked for, but torch sees no CUDA device")
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"device {choice!r} was asked for, but torch sees no MPS device")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None: full fp32) and whether losses need a GradScaler.

    fp16 has a narrow exponent range, so small gradients underflow to zero unless the loss is
    scaled up first; bf16 keeps fp32's range and needs no scaler.
    """

    dtype: torch.dtype | None
    use_scaler: bool

    @property
    def label(self) -> str:
        return "fp32" if self.dtype is None else str(self.dtype).removeprefix("torch.")


def pick_precision(device: torch.device, mixed: bool | None = None) -> Precision:
    """Mixed precision on by default on CUDA (bf16 where the GPU supports it, else fp16 with a
    scaler), off on the CPU and MPS unless ``mixed=True`` asks for bf16 autocast."""
    if mixed is not None and not isinstance(mixed, bool):
        # a string such as "no" or "fp32" is truthy: it would silently turn bf16 on
        raise TypeError(f"mixed_precision must be True, False or None (automatic), got {mixed!r}")
    if mixed is None:
        mixed = device.type == "cuda"
    if not mixed:
        return Precision(dtype=None, use_scaler=False)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(dtype=torch.bfloat16, use_scaler=False)
        return Precision(dtype=torch.float16, use_scaler=True)
    if device.type == "mps":
        return Precision(dtype=torch.float16, use_scaler=False)
    return Precision(dtype=torch.bfloat16, use_scaler=False)


def autocast(device: torch.device, precision: Precision) -> ContextManager:
    """A context in which eligible ops run at `precision`; a no-op for full precision."""
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated.

    Bitwise repeatability on a GPU also needs deterministic kernels; we leave those off because
    they slow training, so GPU runs agree closely, not exactly.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def forked_rng(device: torch.device) -> ContextManager:
    """A context whose random draws (CPU and `device`) leave the global generators as they were:
    a hook or an evaluation that draws noise does not change the training run."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    index = device.index
    if index is None:
        index = torch.cuda.current_device() if device.type == "cuda" else 0
    return torch.random.fork_rng(devices=[index], device_type=device.type)


def rng_state(device: torch.device) -> dict[str, Any]:
    """The global random generators' states (CPU, CUDA if initialised, MPS), for a checkpoint."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    state = {"cpu": torch.get_rng_state(), "cuda": cuda}
    if device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
