"""Hooks: small pieces of code the trainer calls at fixed points (sample grids, schedules, ...).

Ten lines of callbacks in the spirit of minGPT's trainer: subclass `Hook` and override what you
need, or wrap a function with `every_n_steps`. The trainer runs hooks with the random number
generators forked, so a hook that draws noise does not change the training run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from gentut.trainer import Trainer

__all__ = ["Hook", "every_n_steps"]


class Hook:
    """Base class: every method is a no-op, override the ones you need."""

    def on_fit_start(self, trainer: "Trainer") -> None: ...
    def on_step_end(self, trainer: "Trainer") -> None: ...
    def on_epoch_end(self, trainer: "Trainer", epoch: int) -> None: ...  # epoch just ended, from 0
    def on_fit_end(self, trainer: "Trainer") -> None: ...


class _EveryNSteps(Hook):
    def __init__(self, n: int, fn: Callable[["Trainer"], None]) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        self.n, self.fn = n, fn

    def on_step_end(self, trainer: "Trainer") -> None:
        if trainer.global_step % self.n == 0:
            self.fn(trainer)


def every_n_steps(n: int, fn: Callable[["Trainer"], None]) -> Hook:
    """A hook calling ``fn(trainer)`` after every `n`-th global step."""
    return _EveryNSteps(n, fn)
