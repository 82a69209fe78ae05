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


def _flip_one_bit_inside(path, record_suffix):
    """Flip a bit in the middle of the stored bytes of the archive record ending in `record_suffix`."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(record_suffix))
    data = bytearray(path.read_bytes())
    # the local header: 30 bytes, then the name and the extra field, whose lengths it stores
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size // 2] ^= 0x10
    path.write_bytes(bytes(data))
    return info.filename


def test_a_bit_flipped_inside_a_weight_is_caught_with_the_file_and_the_record_named(tmp_path):
    path = save_checkpoint(tmp_path / "run.pt", {"w": torch.linspace(0, 1, 4096)})
    record = _flip_one_bit_inside(path, "data/0")
    # torch alone loads the damaged file without a word, with one weight changed
    silently = torch.load(path, weights_only=True)
    assert not torch.equal(silently["w"], torch.linspace(0, 1, 4096))
    with pytest.raises(CheckpointError, match=rf"run.pt is corrupt: its record '{record}' does not match the CRC-32"):
        load_checkpoint(path)


def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "run.pt", {"global_step": 1})

    def full_disk(obj, file, *args, **kwargs):
        file.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 136192 vs 136144")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(OSError, match=r"could not write the checkpoint .*run.pt .*unexpected pos.*the disk may be "
                                      r"full or not writable; the previous checkpoint there is unchanged"):
        save_checkpoint(path, {"global_step": 2})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"] and load_checkpoint(path)["global_step"] == 1


def test_temporary_files_of_dead_writers_are_removed_by_the_next_save(tmp_path):
    import subprocess
    import sys
    import time

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has exited
    leftovers = {
        "dead writer": tmp_path / f".run.pt.{dead_pid}.abc123.tmp",
        "live writer": tmp_path / f".run.pt.{os.getpid()}.def456.tmp",
        "old, no id": tmp_path / ".run.pt.x1y2z3.tmp",
        "recent, no id": tmp_path / ".run.pt.q9r8s7.tmp",
        "another target": tmp_path / f".other.pt.{dead_pid}.abc123.tmp",
    }
    for file in leftovers.values():
        file.write_bytes(b"half a checkpoint")
    two_hours_ago = time.time() - 7200
    os.utime(leftovers["old, no id"], (two_hours_ago, two_hours_ago))
    save_checkpoint(tmp_path / "run.pt", {"global_step": 1})
    remaining = {name for name, file in leftovers.items() if file.exists()}
    assert remaining == {"live writer", "recent, no id", "another target"}
    assert load_checkpoint(tmp_path / "run.pt")["global_step"] == 1
