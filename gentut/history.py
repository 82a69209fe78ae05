"""The loss history of a training run: named series of (global step, value) pairs.

Plain Python lists, so a history plots with matplotlib directly and travels inside a checkpoint
that `torch.load(weights_only=True)` can read.
"""
from __future__ import annotations

from typing import Any

__all__ = ["History"]


class History:
    """Values logged during training, one series per name (``"loss"``, ``"eval/loss"``, ...)."""

    def __init__(self) -> None:
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, list[float]] = {}

    def log(self, name: str, step: int, value: float) -> None:
        """Append `value` to series `name` at global step `step`."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty str, got {name!r}")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        self._steps.setdefault(name, []).append(step)
        self._values.setdefault(name, []).append(float(value))

    @property
    def names(self) -> list[str]:
        """The logged series, in the order they first appeared."""
        return list(self._steps)

    def series(self, name: str) -> tuple[list[int], list[float]]:
        """Copies of the steps and values of series `name`: ``plt.plot(*history.series("loss"))``."""
        self._require(name)
        return list(self._steps[name]), list(self._values[name])

    def last(self, name: str) -> float:
        """The latest value of series `name`."""
        self._require(name)
        return self._values[name][-1]

    def __contains__(self, name: object) -> bool:
        return name in self._steps

    def __len__(self) -> int:
        return len(self._steps)

    def state_dict(self) -> dict[str, Any]:
        return {
            name: {"steps": list(steps), "values": list(self._values[name])}
            for name, steps in self._steps.items()
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        steps, values = {}, {}
        for name, series in state.items():
            if len(series["steps"]) != len(series["values"]):
                raise ValueError(
                    f"series {name!r} has {len(series['steps'])} steps but {len(series['values'])} values"
                )
            steps[name] = [int(s) for s in series["steps"]]
            values[name] = [float(v) for v in series["values"]]
        self._steps, self._values = steps, values

    def __repr__(self) -> str:
        parts = [f"{name}: {len(v)} points, last {v[-1]:.4g}" for name, v in self._values.items()]
        return "History(" + "; ".join(parts) + ")"

    def _require(self, name: str) -> None:
        if name not in self._steps:
            raise KeyError(f"no series {name!r} in the history; logged series: {self.names}")
