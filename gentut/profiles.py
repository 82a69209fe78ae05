"""Run profiles: the same notebook code at three sizes.

- ``smoke``: CI and tests; seconds per notebook, results not meant to look good.
- ``cpu``: a laptop; recognisable results in minutes. The book's stored outputs come from it.
- ``gpu``: full data sets and epochs.

The profile is chosen automatically: ``GENTUT_PROFILE`` forces one; otherwise a set ``CI``
environment variable means smoke, a CUDA device means gpu, and anything else means cpu.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["PROFILE_NAMES", "Profile", "current_profile"]

PROFILE_NAMES = ("smoke", "cpu", "gpu")


@dataclass(frozen=True)
class Profile:
    """One run profile; `choose` picks the value that belongs to it."""

    name: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.name not in PROFILE_NAMES:
            raise ValueError(f"profile must be one of {PROFILE_NAMES}, got {self.name!r}")

    def choose(self, *, smoke: Any, cpu: Any, gpu: Any) -> Any:
        """Return the value given for this profile: ``epochs = profile.choose(smoke=1, cpu=8, gpu=30)``."""
        return {"smoke": smoke, "cpu": cpu, "gpu": gpu}[self.name]

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"

    def __str__(self) -> str:
        return f"profile {self.name!r} ({self.reason})" if self.reason else f"profile {self.name!r}"


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false", "no")


def current_profile() -> Profile:
    """The profile this run uses, with the reason it was chosen."""
    forced = os.environ.get("GENTUT_PROFILE")
    if forced:
        name = forced.strip().lower()
        if name not in PROFILE_NAMES:
            raise ValueError(
                f"GENTUT_PROFILE must be one of {PROFILE_NAMES}, got {forced!r}"
            )
        return Profile(name, "set by GENTUT_PROFILE")
    if _truthy(os.environ.get("CI")):
        return Profile("smoke", "CI is set")
    if torch.cuda.is_available():
        return Profile("gpu", "a CUDA device is present")
    return Profile("cpu", "no CUDA device")
