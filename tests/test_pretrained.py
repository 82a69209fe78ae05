"""gentut.pretrained: shipped models load only for the settings they were trained with, only when
their SHA-256 is the listed one, with weights_only=True through the spec; `offer` saves only for
bench/pretrained.py."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gentut import pretrained
from gentut.checkpoint import CheckpointError
from gentut.history import History
from gentut.data import mnist as mnist_module
from gentut.models import VAE, MLPDecoder, MLPEncoder, VAEConfig
from gentut.results import read_results, results_path, stale_sources

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pretrained", ROOT / "bench" / "pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_switches(monkeypatch):
    # a developer's shell may have them set; each test sets what it needs
    monkeypatch.delenv(pretrained.OUT_ENV, raising=False)
    monkeypatch.delenv(pretrained.SWITCH_ENV, raising=False)

SETTINGS = {"data": "fashion-mnist", "images": 20_000, "epochs": 10, "seed": 0}


def _model() -> VAE:
    torch.manual_seed(0)
    return VAE(MLPEncoder(8), MLPDecoder(4), config=VAEConfig(latent_dim=4))


def _history() -> History:
    history = History()
    for step in (10, 20):
        history.log("loss", step, 100.0 / step)
    return history


def _ship(directory, model, *, half=False, name="vae-test"):
    path = pretrained.write_model(pretrained.shipped_path(name, directory), model, _history(), SETTINGS, 12.5,
                                  half=half)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (directory / pretrained.SUMS).write_text(f"{digest}  {path.name}\n")
    return path


def test_a_shipped_model_loads_for_its_settings_with_its_history(tmp_path):
    model = _model()
    _ship(tmp_path, model)
    trained = pretrained.load("vae-test", SETTINGS, directory=tmp_path)
    assert trained is not None and trained.seconds == 12.5 and trained.settings == SETTINGS
    assert not trained.model.training
    for name, value in model.state_dict().items():
        assert torch.equal(trained.model.state_dict()[name], value), name
    assert trained.history.series("loss") == ([10, 20], [10.0, 5.0])
    assert trained.describe().startswith("loaded the trained model shipped with the package (gentut/weights/vae-test.pt")
    assert str(tmp_path) not in trained.describe()


def test_other_settings_or_no_file_mean_training(tmp_path):
    _ship(tmp_path, _model())
    assert pretrained.load("vae-test", {**SETTINGS, "images": 1_000}, directory=tmp_path) is None  # the smoke profile
    assert pretrained.load("vae-test", {**SETTINGS, "data": "mnist"}, directory=tmp_path) is None
    assert pretrained.load("not-shipped", SETTINGS, directory=tmp_path) is None


def test_a_damaged_file_is_reported_and_not_used(tmp_path, capsys):
    path = _ship(tmp_path, _model())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert pretrained.load("vae-test", SETTINGS, directory=tmp_path) is None
    assert "vae-test.pt has SHA-256" in capsys.readouterr().out


def test_a_listed_file_that_is_not_a_model_checkpoint_raises_naming_it(tmp_path):
    path = pretrained.shipped_path("vae-test", tmp_path)
    torch.save({"format_version": 1, "model": {}}, path)
    (tmp_path / pretrained.SUMS).write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    with pytest.raises(CheckpointError, match="vae-test.pt"):
        pretrained.load("vae-test", SETTINGS, directory=tmp_path)


def test_half_precision_halves_the_file_and_loads_into_float32_weights(tmp_path):
    model = _model()
    full = _ship(tmp_path, model, name="full").stat().st_size
    half_path = _ship(tmp_path, model, half=True, name="half")
    assert half_path.stat().st_size < 0.6 * full
    trained = pretrained.load("half", SETTINGS, directory=tmp_path)
    for name, value in model.state_dict().items():
        loaded = trained.model.state_dict()[name]
        assert loaded.dtype == value.dtype
        assert torch.equal(loaded, value.half().to(value.dtype)), name


def test_offer_saves_only_when_the_bench_asks(tmp_path, monkeypatch):
    monkeypatch.delenv(pretrained.OUT_ENV, raising=False)
    pretrained.offer("vae-test", _model(), _history(), SETTINGS, 3.0)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(pretrained.OUT_ENV, str(tmp_path))
    pretrained.offer("vae-test", _model(), _history(), SETTINGS, 3.0)
    assert [p.name for p in tmp_path.iterdir()] == ["vae-test.pt"]


def test_settings_must_be_plain_values():
    with pytest.raises(TypeError, match=r"settings\['images'\] must be a str, int, float or bool"):
        pretrained.load("vae-test", {"images": torch.tensor(3)})
    with pytest.raises(TypeError, match="non-empty dict"):
        pretrained.load("vae-test", {})


def test_nothing_loads_when_switched_off_or_while_the_bench_makes_the_files(tmp_path, monkeypatch):
    _ship(tmp_path, _model())
    monkeypatch.setenv(pretrained.SWITCH_ENV, "off")
    assert pretrained.load("vae-test", SETTINGS, directory=tmp_path) is None
    monkeypatch.setenv(pretrained.SWITCH_ENV, "maybe")
    with pytest.raises(ValueError, match="GENTUT_PRETRAINED must be 'on' or 'off', got 'maybe'"):
        pretrained.load("vae-test", SETTINGS, directory=tmp_path)
    monkeypatch.setenv(pretrained.SWITCH_ENV, "on")
    assert pretrained.load("vae-test", SETTINGS, directory=tmp_path) is not None
    monkeypatch.setenv(pretrained.OUT_ENV, str(tmp_path / "out"))
    assert pretrained.load("vae-test", SETTINGS, directory=tmp_path) is None


# ------------------------------------------------------------------ the files shipped in gentut/weights

def test_the_shipped_models_are_the_chapters_and_are_fresh():
    """Every model a chapter offers is shipped, listed with its SHA-256, made by the chapter's cells
    as they are now and by the package code as it is now (else: python bench/pretrained.py)."""
    bench = _bench()
    record = read_results(results_path("pretrained.json"))
    assert stale_sources(record) == [], "the code the shipped models came from changed: python bench/pretrained.py"
    wanted = {name for names in bench.CHAPTERS.values() for name in names}
    assert set(record["results"]) == wanted
    sums = pretrained.listed_sums()
    for name, made in record["results"].items():
        path = pretrained.shipped_path(name)
        assert sums[path.name] == made["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), name
        assert bench.cell_sha256(ROOT / made["chapter"], name) == made["cell_sha256"], (
            f"{made['chapter']}'s cells that train {name} changed since it was made: python bench/pretrained.py")
        assert made["precision"] in ("float16", "float32") and made["bytes"] < 5e6, name
        # what the chapter asks for with its own settings is what was shipped
        assert pretrained.load(name, made["settings"]) is not None, name


@pytest.mark.skipif(not mnist_module.is_available(mnist_module.FASHION_MNIST, "test"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_a_shipped_model_reproduces_the_chapters_numbers():
    """The FD of each shipped model, measured again here, is the one measured when it was shipped
    and the one its chapter prints (the chapters' outputs come from the shipped files)."""
    bench = _bench()
    record = read_results(results_path("pretrained.json"))
    for name, made in record["results"].items():
        model = pretrained.load(name, made["settings"]).model
        fd = bench.sample_fd(model, made["settings"], half=False, n=bench.N_SAMPLES)
        assert fd == pytest.approx(made[f"fd_{made['precision']}"], rel=1e-6), name
        row, digits = bench.CHAPTER_ROWS[name]
        outputs = "".join("".join(output.get("text", "")) for cell in json.loads((ROOT / made["chapter"]).read_text())["cells"]
                          if cell["cell_type"] == "code" for output in cell.get("outputs", []))
        lines = [line for line in outputs.splitlines() if line.startswith(row + "  ")]
        assert any(f" {fd:.{digits}f} " in f" {line} " for line in lines), (name, f"{fd:.{digits}f}", lines)


def test_the_bench_makes_the_files_at_toy_size(tmp_path):
    """bench/pretrained.py --smoke: the VAE-GAN chapter runs on the synthetic digits and offers its
    model, which is stored, listed and loads back."""
    out, weights = tmp_path / "pretrained.json", tmp_path / "weights"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run([sys.executable, "bench/pretrained.py", "--smoke", "--chapters", "book/vaegan/vaegan.ipynb",
                             "--weights", str(weights), "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    made = read_results(out)["results"]["vaegan"]
    assert made["settings"]["data"] == "synthetic-digits" and made["settings"]["epochs"] == 1
    assert pretrained.listed_sums(weights) == {"vaegan.pt": made["sha256"]}
    assert pretrained.load("vaegan", made["settings"], directory=weights) is not None
