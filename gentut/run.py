"""The first cell of every notebook: which profile, device and precision this run uses.

`start` seeds everything and prints one line, so a stored notebook records how its outputs were
made.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from gentut.device import Precision, pick_device, pick_precision, seed_everything
from gentut.profiles import Profile, current_profile

__all__ = ["RunInfo", "start"]


@dataclass(frozen=True)
class RunInfo:
    """What a notebook run uses; pass `device` and `mixed_precision` on to the Trainer."""

    profile: Profile
    device: torch.device
    precision: Precision
    seed: int

    @property
    def mixed_precision(self) -> bool:
        return self.precision.dtype is not None

    def describe(self) -> str:
        import gentut

        return (
            f"gentut {gentut.__version__} · torch {torch.__version__} · {self.profile} · "
            f"device {self.device.type} · {self.precision.label} · seed {self.seed}"
        )


def start(
    seed: int = 0,
    *,
    device: str | torch.device | None = None,
    mixed_precision: bool | None = None,
    verbose: bool = True,
) -> RunInfo:
    """Seed the run, pick profile, device and precision, and print them on one line."""
    seed_everything(seed)
    chosen = pick_device(device)
    info = RunInfo(current_profile(), chosen, pick_precision(chosen, mixed_precision), seed)
    if verbose:
        print(info.describe())
    return info
