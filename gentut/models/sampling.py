"""The one sampling contract of the book's generative models, and the helpers behind it.

Every generative model has ``sample(n, *, labels=None, generator=None)``:

* it returns `n` samples (n, ...) without gradients, in the data's range (images in [0, 1]);
* it runs the networks in eval mode (batch norm on its running statistics, dropout off,
  spectral norm frozen) and puts back the mode they were in;
* `generator` is a ``torch.Generator`` for reproducible noise, on the CPU or on the model's
  device: the noise is drawn where the generator lives, then moved, so the same CPU seed gives
  the same samples on any device;
* `labels` (n,) choose the classes of a conditional model; an unconditional one refuses them.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import Tensor, nn

from gentut.validation import positive_int

__all__ = ["prior_noise", "evaluation_mode", "check_count", "model_device"]


def check_count(n: object) -> int:
    return positive_int("n", n, "the number of samples")


def model_device(module: nn.Module) -> torch.device:
    """The device of `module`'s first parameter (the CPU for a module without parameters)."""
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def prior_noise(
    n: int, dim: int, *, device: torch.device, generator: torch.Generator | None = None
) -> Tensor:
    """z ~ N(0, I) of shape (n, dim) on `device`, drawn with `generator` where it lives."""
    if generator is None:
        return torch.randn(n, dim, device=device)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return torch.randn(n, dim, generator=generator, device=generator.device).to(device)


@contextlib.contextmanager
def evaluation_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients inside; the module's own mode restored after."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
