"""Tests for gentut.checkpoint: atomic writes, weights-only reads, clear errors."""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import pytest
import torch

from gentut import checkpoint
from gentut.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint


def _state() -> dict:
    return {
        "model": OrderedDict(weight=torch.arange(6.0).reshape(2, 3), bias=torch.zeros(2)),
        "optimizers": {"model": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "foreach": None}]}},
        "global_step": 3,
        "history": {"loss": {"steps": [1, 2], "values": [0.5, 0.25]}},
        "name": "run",
    }


def test_round_trip_keeps_every_value_and_adds_format_version(tmp_path):
    state = _state()
    path = save_checkpoint(tmp_path / "run.pt", state)
    loaded = load_checkpoint(path)
    assert loaded["format_version"] == FORMAT_VERSION
    assert "format_version" not in state  # the caller's dict is left alone
    assert torch.equal(loaded["model"]["weight"], state["model"]["weight"])
    assert loaded["optimizers"]["model"]["param_groups"][0]["betas"] == (0.9, 0.99)
    assert loaded["optimizers"]["model"]["state"][0]["step"].item() == 3.0
    assert loaded["history"] == state["history"]
    assert loaded["global_step"] == 3 and loaded["name"] == "run"


def test_save_creates_missing_parent_directories(tmp_path):
    path = save_checkpoint(tmp_path / "a" / "b" / "run.pt", {"x": 1})
    assert path.is_file()


def test_missing_file_raises_file_not_found_naming_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        load_checkpoint(tmp_path / "nowhere.pt")


def test_corrupt_file_raises_checkpoint_error(tmp_path):
    path = tmp_path / "corrupt.pt"
    path.write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_truncated_file_raises_checkpoint_error(tmp_path):
    path = save_checkpoint(tmp_path / "run.pt", _state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_wrong_format_version_names_expected_and_got(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format_version": 99, "model": {}}, path)
    with pytest.raises(CheckpointError, match=rf"format_version 99, expected {FORMAT_VERSION}"):
        load_checkpoint(path)


def test_missing_format_version_is_rejected(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match=rf"format_version None, expected {FORMAT_VERSION}"):
        load_checkpoint(path)


class _Payload:
    """A custom class: unpickling it would mean running code, which weights_only refuses."""


def test_file_with_custom_class_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "unsafe.pt"
    torch.save({"format_version": FORMAT_VERSION, "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("bad", [np.zeros(3), _Payload(), {"inner": [np.float64(1.0)]}])
def test_saving_a_value_weights_only_cannot_load_raises_before_writing(tmp_path, bad):
    path = tmp_path / "run.pt"
    with pytest.raises(TypeError, match="weights_only=True"):
        save_checkpoint(path, {"bad": bad})
    assert list(tmp_path.iterdir()) == []


def test_failure_during_save_keeps_the_old_checkpoint_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "run.pt", {"global_step": 1, "w": torch.ones(3)})
    before = path.read_bytes()

    def failing_save(obj, file, *args, **kwargs):
        file.write(b"half a checkpoint")  # the crash happens mid-write
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"global_step": 2, "w": torch.zeros(3)})
    monkeypatch.undo()

    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]
    assert path.read_bytes() == before
    loaded = load_checkpoint(path)
    assert loaded["global_step"] == 1 and torch.equal(loaded["w"], torch.ones(3))


def test_state_must_be_a_dict(tmp_path):
    with pytest.raises(TypeError, match="state must be a dict"):
        save_checkpoint(tmp_path / "run.pt", [1, 2])
