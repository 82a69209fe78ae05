"""The command line at toy size: every model trains, resumes, samples and evaluates; Ctrl-C
writes a checkpoint the run resumes from to the weights of an uninterrupted run; bad arguments
and files get one-line errors and distinct exit codes; a reader's own image files are read."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gentut.checkpoint import load_checkpoint
from gentut.cli import EXIT_DIVERGED, EXIT_FILES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, MODELS, main
from gentut.config import read_config

pytestmark = pytest.mark.usefixtures("one_thread")
TOY = ["--data", "synthetic-digits", "--set", "train.train_images=64", "--set", "train.batch_size=32",
       "--set", "train.epochs=1", "--set", "train.samples_every_epoch=4"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENTUT_DATA", str(tmp_path / "data"))  # a fresh classifier cache
    monkeypatch.setenv("GENTUT_PROFILE", "smoke")


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_trains_resumes_samples_and_evaluates(model, tmp_path, capsys):
    run = tmp_path / model
    assert main(["train", model, "--out", str(run), *TOY]) == EXIT_OK
    assert (run / "checkpoint.pt").is_file() and (run / "history.csv").read_text().startswith("name,step,value")
    config = read_config(run / "config.toml")
    assert config["model"]["model"] in ("autoencoder", "vae", "gan", "vaegan") and config["train"]["epochs"] == 1
    assert main(["train", "--out", str(run), "--resume", "--set", "train.epochs=2"]) == EXIT_OK
    assert load_checkpoint(run / "checkpoint.pt")["global_step"] == 4  # two epochs of two batches
    if model in ("autoencoder", "denoising-autoencoder"):
        assert main(["sample", str(run)]) == EXIT_USAGE  # an autoencoder has no prior to sample
    else:
        assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch-001.png", "epoch-002.png"]
        assert main(["sample", str(run), "--count", "9", "--seed", "1", "--npy"]) == EXIT_OK
        samples = np.load(run / "samples-seed1.npy")
        assert samples.shape == (9, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    capsys.readouterr()
    assert main(["eval", str(run), "--n", "40"]) == EXIT_OK
    table = capsys.readouterr().out
    assert config["model"]["model"] in table and ("mse" in table or "fd" in table)


def test_a_conditional_model_draws_the_class_it_is_asked_for(tmp_path):
    run = tmp_path / "cvae"
    assert main(["train", "conditional-vae", "--out", str(run), *TOY]) == EXIT_OK
    assert main(["sample", str(run), "--class", "3", "--count", "4"]) == EXIT_OK
    assert main(["sample", str(run), "--class", "10"]) == EXIT_USAGE


def _checkpoint_weights(path):
    return load_checkpoint(path)["model"]


def test_ctrl_c_writes_a_checkpoint_and_the_resumed_run_ends_on_the_uninterrupted_weights(tmp_path):
    args = ["vae", "--data", "synthetic-digits", "--set", "train.train_images=4096", "--set", "train.batch_size=32",
            "--set", "train.epochs=3", "--set", "train.samples_every_epoch=0"]
    env = {**os.environ, "GENTUT_DATA": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "gentut", "train"]
    whole = subprocess.run([*command, *args, "--out", str(tmp_path / "whole")], env=env, capture_output=True,
                           text=True, timeout=300)
    assert whole.returncode == EXIT_OK, whole.stderr
    child = subprocess.Popen([*command, *args, "--out", str(tmp_path / "cut")], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert "epoch 1/3" in child.stdout.readline() + child.stdout.readline()  # the start line, then epoch 1
    time.sleep(0.3)  # into the second epoch
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == EXIT_INTERRUPTED, err
    assert "checkpoint written. Continue with: python -m gentut train --out" in err
    stopped_at = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")["global_step"]
    assert 0 < stopped_at < 384
    resumed = subprocess.run([*command, "--out", str(tmp_path / "cut"), "--resume"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    a, b = _checkpoint_weights(tmp_path / "whole" / "checkpoint.pt"), _checkpoint_weights(tmp_path / "cut" / "checkpoint.pt")
    assert all(torch.equal(a[name], b[name]) for name in a)


@pytest.mark.parametrize("argv, code, message", [
    (["train", "vae", "--out", "{tmp}/x", "--set", "train.epochs=0"], EXIT_USAGE, "train.epochs must be an int >= 1"),
    (["train", "vae", "--out", "{tmp}/x", "--set", "train.colour=red"], EXIT_USAGE, "unknown [train] settings"),
    (["train", "vae", "--out", "{tmp}/x", "--set", "model.config.beta=-1"], EXIT_USAGE, "beta"),
    (["train", "vae", "--out", "{tmp}/x", "--set", "epochs"], EXIT_USAGE, "must look like section.key=value"),
    (["train", "vae", "--out", "{tmp}/x", "--config", "{tmp}/missing.toml"], EXIT_USAGE, "no configuration file"),
    (["train", "vae", "--out", "{tmp}/x", "--data", "{tmp}/nothing-here"], EXIT_FILES, "neither a built-in data set"),
    (["train", "--out", "{tmp}/x", "--resume"], EXIT_FILES, "no checkpoint.pt in"),
    (["sample", "{tmp}/x"], EXIT_FILES, "holds no checkpoint.pt"),
    (["train", "--out", "{tmp}/x"], EXIT_USAGE, "give a MODEL, --config FILE or --resume"),
    (["sample", "{tmp}/x", "--count", "0"], EXIT_USAGE, "--count must be a positive number, got 0"),
])
def test_bad_arguments_and_files_get_one_line_errors_and_their_exit_codes(argv, code, message, tmp_path, capsys):
    argv = [part.replace("{tmp}", str(tmp_path)) for part in argv]
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_a_corrupt_checkpoint_is_a_file_error_naming_it(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "gan", "--out", str(run), *TOY]) == EXIT_OK
    data = bytearray((run / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (run / "checkpoint.pt").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["sample", str(run)]) == EXIT_FILES
    assert "checkpoint.pt" in capsys.readouterr().err


def test_a_diverging_run_stops_with_its_exit_code_and_keeps_its_history(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae", "--out", str(run), *TOY, "--set", "model.optimizers.model.options.lr=1e30"]) \
        == EXIT_DIVERGED
    assert "training stopped:" in capsys.readouterr().err and (run / "history.csv").exists()


def test_a_readers_own_images_train_from_npz_npy_and_a_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)  # colour, another size
    np.savez(tmp_path / "mine.npz", images=pictures, labels=np.arange(40) % 4)
    np.save(tmp_path / "mine.npy", pictures.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    folder = tmp_path / "folder"
    for label in ("cats", "dogs"):
        (folder / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(pictures[i]).save(folder / label / f"{i}.png")
    for source in ("mine.npz", "mine.npy", "folder"):
        run = tmp_path / f"run-{source}"
        argv = ["train", "dcgan", "--out", str(run), "--data", str(tmp_path / source), "--set", "train.batch_size=8",
                "--set", "train.epochs=1", "--set", "train.samples_every_epoch=0"]
        assert main(argv) == EXIT_OK, source
        # the last tenth is held out: 36 of 40 images (22 of 24 in the folder), batches of 8
        assert load_checkpoint(run / "checkpoint.pt")["global_step"] == (36 if source != "folder" else 22) // 8 + 1


def test_own_image_files_are_converted_and_bad_ones_named(tmp_path):
    from PIL import Image

    from gentut.data.files import load_image_files

    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, size=(10, 40, 30, 3), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=pictures, labels=np.arange(10) % 2)
    data = load_image_files(tmp_path / "a.npz", (1, 28, 28))
    assert data.images.shape == (10, 1, 28, 28) and data.labels.tolist() == [0, 1] * 5
    grey = np.asarray(Image.fromarray(pictures[0]).convert("L").resize((28, 28), Image.Resampling.BILINEAR))
    assert np.allclose(data.images[0, 0].numpy(), grey / 255, atol=1 / 255)
    assert load_image_files(tmp_path / "a.npz", (3, 16, 16)).images.shape == (10, 3, 16, 16)
    (tmp_path / "folder").mkdir()
    Image.fromarray(pictures[0]).save(tmp_path / "folder" / "good.png")
    (tmp_path / "folder" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"broken.jpg is not an image Pillow can read"):
        load_image_files(tmp_path / "folder")
    np.save(tmp_path / "bad.npy", np.full((3, 8, 8), 300, dtype=np.int32))
    with pytest.raises(ValueError, match=r"integer images must be in 0..255, got 300 to 300"):
        load_image_files(tmp_path / "bad.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot read images"):  # pickled objects are refused, not run
        load_image_files(tmp_path / "objects.npy")
