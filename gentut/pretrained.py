"""The book's trained models, shipped with the package: load a chapter's model instead of training it.

A chapter trains its main model in a cell that first offers the shipped one::

    trained = pretrained.load("vae-mlp", settings)   # None: not shipped, other settings, or damaged
    if trained is None:
        torch.manual_seed(0)
        model = VAE(...)                             # the training, as the chapter shows it
        trainer = fit(model)
        history = trainer.history
        pretrained.offer("vae-mlp", model, history, settings)
    else:
        model, history = trained.model, trained.history

`settings` names what the training depended on (the data set and how many images, epochs,
seed, ...). A shipped model is used only when they are the ones it was trained with, so the smoke
profile that CI runs, and a reader who changes a setting, train as before. ``GENTUT_PRETRAINED=off``
makes every chapter train its models itself.

``bench/pretrained.py`` makes the files: it runs each chapter with ``GENTUT_PRETRAINED_OUT`` set,
where `offer` saves what the chapter has just trained (elsewhere `offer` does nothing), then
stores each model in ``gentut/weights/`` (half precision where that changes no number the chapter
prints), lists its SHA-256 in ``MODELS.SHA256SUMS`` (the classifier has its own ``SHA256SUMS``), and records sizes and
load times in ``bench/results/pretrained.json``. Files load with ``weights_only=True`` through
`gentut.spec.load_model`, after their SHA-256 is checked.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from gentut import checkpoint
from gentut.history import History
from gentut.spec import load_model, model_spec

__all__ = ["WEIGHTS_DIR", "SUMS", "OUT_ENV", "SWITCH_ENV", "Pretrained", "listed_sums", "load", "offer", "shipped_path",
           "write_model"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The models' own list, apart from the classifier's SHA256SUMS (which the metrics' results depend on)
SUMS = "MODELS.SHA256SUMS"
OUT_ENV = "GENTUT_PRETRAINED_OUT"  # set by bench/pretrained.py: where `offer` saves what a chapter trained
SWITCH_ENV = "GENTUT_PRETRAINED"  # "off": never load, train every model
SETTING_TYPES = (str, int, float, bool)


@dataclass
class Pretrained:
    """A shipped model, ready to use.

    Attributes:
        model: rebuilt from its spec, weights loaded, in eval mode, on the CPU.
        history: the training history of the run that produced it (for the chapter's loss plots).
        records: what the chapter's hooks recorded during that run (samples and scores at checks,
            seconds, ...), as the chapter offered them; empty if it offered none.
        settings: what it was trained with.
        seconds: how long that training took.
        path: the file it came from.
        load_seconds: how long reading, checking and rebuilding took here.
    """

    model: nn.Module
    history: History
    records: dict[str, Any]
    settings: dict[str, Any]
    seconds: float
    path: Path
    load_seconds: float

    def describe(self) -> str:
        """One line for a chapter's output (no local paths)."""
        return (f"loaded the trained model shipped with the package (gentut/weights/{self.path.name}, "
                f"SHA-256 checked, {self.load_seconds:.2f} s) instead of training it again "
                f"({self.seconds:.0f} s when it was made)")


def _check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(settings, Mapping) or not settings:
        raise TypeError(f"settings must be a non-empty dict of plain values, got {settings!r}")
    for key, value in settings.items():
        if not isinstance(key, str) or not isinstance(value, SETTING_TYPES):
            raise TypeError(f"settings[{key!r}] must be a str, int, float or bool, got {type(value).__name__}")
    return dict(settings)


def shipped_path(name: str, directory: Path | None = None) -> Path:
    return (WEIGHTS_DIR if directory is None else Path(directory)) / f"{name}.pt"


def listed_sums(directory: Path | None = None) -> dict[str, str]:
    """File name -> SHA-256 of the models listed in `directory`'s MODELS.SHA256SUMS (lines of
    ``<sha256>  <file name>``, as ``sha256sum`` writes them)."""
    sums = (WEIGHTS_DIR if directory is None else Path(directory)) / SUMS
    if not sums.is_file():
        return {}
    listed = {}
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
                raise ValueError(f"{sums}, line {number}: expected '<sha256>  <file name>', got {line!r}")
            listed[name] = digest
    return listed


def load(name: str, settings: Mapping[str, Any], *, directory: Path | None = None,
         device: str | torch.device | None = None) -> Pretrained | None:
    """The shipped model `name` if it was trained with exactly `settings`, else None.

    A file whose SHA-256 is not the one in MODELS.SHA256SUMS is reported in one line and not used (the
    chapter then trains); a file that is not a model checkpoint raises, naming it. Nothing loads
    when ``GENTUT_PRETRAINED=off``, nor while ``bench/pretrained.py`` runs the chapters to make
    the files (GENTUT_PRETRAINED_OUT set): they must train.
    """
    wanted = _check_settings(settings)
    switch = os.environ.get(SWITCH_ENV, "on").strip().lower()
    if switch not in ("on", "off"):
        raise ValueError(f"{SWITCH_ENV} must be 'on' or 'off', got {os.environ[SWITCH_ENV]!r}")
    if switch == "off" or os.environ.get(OUT_ENV):
        return None
    directory = WEIGHTS_DIR if directory is None else Path(directory)
    path = shipped_path(name, directory)
    expected = listed_sums(directory).get(path.name)
    if expected is None or not path.is_file():
        return None
    start = time.perf_counter()
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    if found != expected:
        print(f"gentut/weights/{path.name} has SHA-256 {found[:16]}..., not the listed {expected[:16]}... "
              f"(a damaged install?); training instead")
        return None
    state = checkpoint.load_checkpoint(path)
    checkpoint.require_sections(state, ["spec", "model", "history", "settings", "seconds"], path,
                                kind="shipped model")
    if state["settings"] != wanted:
        return None
    model = load_model(path, device=device)
    history = History()
    history.load_state_dict(state["history"])
    return Pretrained(model, history, dict(state.get("records", {})), dict(state["settings"]),
                      float(state["seconds"]), path, time.perf_counter() - start)


def write_model(path: Path, model: nn.Module, history: History, settings: Mapping[str, Any], seconds: float,
                *, records: Mapping[str, Any] | None = None, half: bool = False) -> Path:
    """Save `model` (its spec and weights, in half precision if `half`), its training `history`,
    hooks' `records` (tensors, numbers, strings and lists or dicts of them), `settings` and training
    `seconds` as a model checkpoint at `path`."""
    weights = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
               for k, v in model.state_dict().items()}
    return checkpoint.save_checkpoint(path, {
        "spec": model_spec(model), "model": weights, "history": history.state_dict(),
        "settings": _check_settings(settings), "seconds": float(seconds),
        "records": _cpu(dict(records or {})),
    })


def _cpu(value: Any) -> Any:
    """`value` with every tensor detached and moved to the CPU (a record may hold GPU samples)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


def offer(name: str, model: nn.Module, history: History, settings: Mapping[str, Any], seconds: float,
          *, records: Mapping[str, Any] | None = None) -> None:
    """Save what a chapter has just trained, when ``bench/pretrained.py`` asks for it (the
    environment variable GENTUT_PRETRAINED_OUT names a folder); otherwise do nothing."""
    # What would not store is an error on every run (CI's included), not only when the bench saves.
    checkpoint.check_loadable(_cpu(dict(records or {})), "records")
    out = os.environ.get(OUT_ENV)
    if out:
        write_model(Path(out) / f"{name}.pt", model, history, settings, seconds, records=records)
