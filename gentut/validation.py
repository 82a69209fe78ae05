"""Named checks for constructor and function arguments, shared by every module.

Each check either returns the value (normalised where that helps, a list to a tuple) or raises
an error whose message names the argument, what was expected and what came, so a model file can
state its rules in one line each and get back to its equations.

``is_int`` and ``is_number`` are the predicates behind them: ``True`` and ``False`` are ints in
Python, but never a sensible size or learning rate, so both reject bools.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor

__all__ = [
    "is_int",
    "is_number",
    "positive_int",
    "positive_number",
    "probability",
    "choice",
    "int_tuple",
    "image_shape",
    "batch_shape",
    "seed",
    "flag",
]


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(name: str, value: object, why: str = "") -> int:
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int{_why(why)}, got {value!r}")
    return value  # type: ignore[return-value]


def positive_number(name: str, value: object, why: str = "") -> float:
    if not is_number(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number{_why(why)}, got {value!r}")
    return value  # type: ignore[return-value]


def probability(name: str, value: object) -> float:
    """A number in [0, 1), such as a dropout rate."""
    if not is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)  # type: ignore[arg-type]


def choice(name: str, value: object, choices: Sequence[Any]) -> Any:
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def int_tuple(name: str, value: object, *, length: int | None = None, minimum: int = 1) -> tuple[int, ...]:
    """A tuple (or list) of ints, each at least `minimum`, optionally of a given length."""
    if not isinstance(value, (tuple, list)) or (length is not None and len(value) != length):
        size = "" if length is None else f" of length {length}"
        raise ValueError(f"{name} must be a tuple{size} of ints >= {minimum}, got {value!r}")
    for i, item in enumerate(value):
        if not is_int(item) or item < minimum:
            raise ValueError(f"{name}[{i}] must be an int >= {minimum}, got {item!r}")
    return tuple(value)


def image_shape(name: str, value: object) -> tuple[int, int, int]:
    """A (channels, height, width) tuple of positive ints."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"{name} must be a (channels, height, width) tuple, got {value!r}")
    for part, size in zip(("channels", "height", "width"), value):
        positive_int(f"{name} {part}", size)
    return tuple(value)  # type: ignore[return-value]


def seed(name: str, value: object) -> int:
    """A seed: an int >= 0 (checked when given, not at the first batch that uses it)."""
    if not is_int(value) or value < 0:
        raise TypeError(f"{name} must be an int >= 0, got {value!r} ({type(value).__name__})")
    return value  # type: ignore[return-value]


def flag(name: str, value: object, *, allow_none: bool = False) -> bool | None:
    """A bool (or None when allowed): a string such as "no" is truthy and would mean yes."""
    if not isinstance(value, bool) and not (allow_none and value is None):
        expected = "True, False or None" if allow_none else "True or False"
        raise TypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    return value


def batch_shape(where: str, x: object, expected: tuple[int, ...]) -> None:
    """Raise a readable error unless `x` is a floating-point tensor of shape (B, *expected)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where} expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        hint = " (images stored as bytes: use x.float() / 255)" if x.dtype == torch.uint8 else ""
        raise TypeError(f"{where} expected a floating-point tensor, got dtype {x.dtype}{hint}")
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        want = ", ".join(["B", *map(str, expected)])
        got = ", ".join(["B", *map(str, x.shape[1:])]) if x.ndim >= 1 else ""
        raise ValueError(f"{where} expected input of shape ({want}), got ({got})")


def _why(why: str) -> str:
    return f" ({why})" if why else ""
