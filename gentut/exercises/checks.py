"""What every exercise checker shares: the error it raises, how it calls the reader's function and
compares the result with the reference and with known mistakes, and the "Correct:" line."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

__all__ = ["ExerciseCheckError", "ExerciseNotDone"]


class ExerciseCheckError(AssertionError):
    """Your function does not yet do what the exercise asks; the message says why."""


class ExerciseNotDone(ExerciseCheckError):
    """The function is still the workbook's blank: its body raises NotImplementedError.

    Jupyter and Colab show this one as its message alone, without a traceback (IPython renders an
    exception through its ``_render_traceback_`` when it has one): it is an instruction to the
    reader, not an error in their code. Running all cells still stops here."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;34mExercise not done yet:\x1b[0m {self}"]


def _fail(message: str) -> None:
    raise ExerciseCheckError(message)


def _passed(message: str) -> None:
    # Print, don't return: a returned True would show up as an extra "True" under the message.
    print(f"Correct: {message}")


def _call(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """Call the reader's function; report an exception as a check failure naming the inputs."""
    try:
        return fn(*args)
    except ExerciseCheckError:
        raise
    except NotImplementedError as error:
        frame = error.__traceback__
        while frame.tb_next is not None:
            frame = frame.tb_next
        if frame.tb_frame.f_code is not getattr(fn, "__code__", None):
            # raised deeper (say, by torch for a module without forward): the reader's bug
            _fail(f"calling your {what} raised NotImplementedError: {error}")
        # raised by the function itself: the workbook's blank, or the reader's own placeholder
        name = getattr(fn, "__name__", "the function")
        detail = f" ({error})" if str(error) else ""
        raise ExerciseNotDone(
            f"{name} still raises NotImplementedError{detail}. Replace that line with your code "
            f"and run the cell again: the checker then says whether it is right."
        ) from None
    except Exception as error:  # the reader's bug, reported with context
        _fail(f"calling your {what} raised {type(error).__name__}: {error}")


def _as_tensor(value: Any, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, (int, float)):
        return torch.tensor(float(value))
    _fail(f"your {what} should return a torch.Tensor, got {type(value).__name__}")
    raise AssertionError  # unreachable; keeps type checkers happy


def _close(a: Tensor, b: Tensor, *, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol)
    )


def _compare(
    got: Tensor,
    expected: Tensor,
    *,
    what: str,
    mistakes: Sequence[tuple[Tensor, str]] = (),
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> None:
    """Fail unless `got` matches `expected`; if it matches a known mistake, say which.

    Args:
        got: the reader's result.
        expected: the reference result.
        what: how to name the result in messages ("your loss").
        mistakes: pairs (result a known mistake would give, explanation of that mistake).
    """
    if got.shape != expected.shape:
        _fail(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        )
    if not torch.isfinite(got).all():
        _fail(f"{what} contains NaN or infinity; expected finite values like {_show(expected)}")
    if _close(got, expected, rtol=rtol, atol=atol):
        return
    for wrong, explanation in mistakes:
        if _close(got, wrong, rtol=rtol, atol=atol):
            _fail(f"{what} is {_show(got)}, expected {_show(expected)}. {explanation}")
    _fail(f"{what} is {_show(got)}, expected {_show(expected)}")


def _show(value: Tensor) -> str:
    if value.numel() == 1:
        return f"{value.item():.6g}"
    return f"a tensor of shape {tuple(value.shape)} (first values {value.flatten()[:3].tolist()})"
