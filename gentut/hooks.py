"""Hooks: small pieces of code the trainer calls at fixed points (sample grids, schedules, ...).

Ten lines of callbacks in the spirit of minGPT's trainer: subclass `Hook` and override what you
need, or wrap a function with `every_n_steps`. The trainer runs hooks with the random number
generators forked, so a hook that draws noise does not change the training run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from gentut.trainer import Trainer

__all__ = ["Hook", "every_n_steps", "LinearDecay"]


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


class LinearDecay(Hook):
    """Lower every optimizer's learning rate linearly, from its initial value at step 0 to
    `final` times that value at `total_steps` (and keep it there).

    Late, small steps let a GAN's generator settle its samples onto narrow modes instead of
    jittering around them. Like torch's schedulers, the starting rate is stored in each
    parameter group as ``"initial_lr"``, which the optimizer's state dict (and so a checkpoint)
    keeps, and the rate is computed from the trainer's global step alone: a resumed run
    continues on the same schedule.
    """

    def __init__(self, total_steps: int, final: float = 0.01) -> None:
        if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
        if isinstance(final, bool) or not isinstance(final, (int, float)) or not 0 <= final <= 1:
            raise ValueError(f"final must be a fraction in [0, 1] of the initial rate, got {final!r}")
        self.total_steps, self.final = total_steps, float(final)

    def _apply(self, trainer: "Trainer") -> None:
        progress = min(trainer.global_step / self.total_steps, 1.0)
        fraction = 1.0 - (1.0 - self.final) * progress
        for optimizer in trainer.optimizers.values():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * fraction

    def on_fit_start(self, trainer: "Trainer") -> None:
        self._apply(trainer)  # a resumed run starts at its step's rate, not the initial one

    def on_step_end(self, trainer: "Trainer") -> None:
        self._apply(trainer)
