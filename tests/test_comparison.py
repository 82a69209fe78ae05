"""The comparison runner: candidates built from specs, trained, scored with one call, cached by a
key that changes with the spec, the data and the code, and resumed after an interruption."""
from __future__ import annotations

import json

import pytest
import torch

import gentut.comparison as comparison
from gentut.comparison import Candidate, cache_key, candidate, code_files, load_trained, run_comparison
from gentut.data import make_synthetic_digits
from gentut.models import GAN, VAE, Autoencoder, AutoencoderConfig, GANConfig, MLPDecoder, MLPEncoder, VAEConfig
from gentut.models.classifier import DigitClassifier
from gentut.spec import SpecError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return make_synthetic_digits(160, seed=0, split="train"), make_synthetic_digits(60, seed=1, split="test")


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return DigitClassifier(10).eval()  # untrained: the scores are numbers, their meaning is not tested here


def _ae(epochs=1):
    model = Autoencoder(MLPEncoder(4, hidden=(16,)), MLPDecoder(4, hidden=(16,)), config=AutoencoderConfig())
    return candidate("AE", model, {"model": torch.optim.Adam(model.parameters(), lr=1e-3)}, epochs=epochs,
                     batch_size=32)


def _vae(**options):
    model = VAE(MLPEncoder(8, hidden=(16,)), MLPDecoder(4, hidden=(16,)), config=VAEConfig(latent_dim=4))
    return candidate("VAE", model, {"model": torch.optim.Adam(model.parameters(), lr=1e-3)}, epochs=1,
                     batch_size=32, **options)


def _gan():
    model = GAN(MLPDecoder(4, hidden=(16,)), MLPEncoder(1, hidden=(16,)), config=GANConfig(latent_dim=4))
    optimizers = {"discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=1e-3),
                  "generator": torch.optim.Adam(model.generator.parameters(), lr=1e-3)}
    return candidate("GAN", model, optimizers, epochs=1, batch_size=32)


def _run(candidates, data, classifier, cache, **kwargs):
    train, test = data
    kwargs.setdefault("n_eval", 50)
    return run_comparison(candidates, train, test, classifier=classifier, cache=cache, n_eval=kwargs.pop("n_eval"),
                          iwae_samples=4, iwae_images=20, device="cpu", progress=False, log=lambda line: None,
                          **kwargs)


def test_each_family_gets_the_scores_defined_for_it_and_none_of_the_others(data, classifier, tmp_path):
    results = {r["name"]: r for r in _run([_ae(), _vae(binarized=True), _gan()], data, classifier, tmp_path)}
    ae, vae, gan = results["AE"], results["VAE"], results["GAN"]
    assert ae["mse"] > 0 and ae["fd"] is None and ae["log_likelihood"] is None and ae["n_generated"] == 0
    assert vae["mse"] > 0 and vae["fd"] >= 0 and vae["log_likelihood"] < 0
    assert vae["bits_per_dim"] == pytest.approx(-vae["log_likelihood"] / (784 * 0.6931471805599453))
    assert gan["mse"] is None and gan["log_likelihood"] is None and gan["fd"] >= 0
    for result in (vae, gan):
        assert 0 <= result["precision"] <= 1 and 0 <= result["coverage"] <= 1
        assert result["n_generated"] == 50 and result["n_real"] == 50 and isinstance(result["copying"], float)
    for result in results.values():
        assert result["steps"] == 5 and result["seconds"] > 0 and not result["from_cache"]
        grid = comparison.images_from_grid(result["grid"])
        assert grid.shape == (16, 1, 28, 28) and 0 <= grid.min() and grid.max() <= 1
        assert result["parameters"] == sum(p.numel() for p in load_trained(result).parameters())


def test_a_second_run_reads_the_cache_and_rebuilds_the_same_trained_model(data, classifier, tmp_path):
    first = _run([_vae()], data, classifier, tmp_path)[0]
    second = _run([_vae()], data, classifier, tmp_path)[0]
    assert second["from_cache"] and not first["from_cache"]
    assert {k: v for k, v in first.items() if k != "from_cache"} == {k: v for k, v in second.items() if k != "from_cache"}
    x = data[1].images[:8]
    assert torch.equal(load_trained(first)(x), load_trained(second)(x))


def test_the_key_changes_with_the_spec_the_budget_the_data_the_classifier_the_scoring_and_the_code(
        data, classifier, tmp_path, monkeypatch):
    base = dict(data="d", classifier="c", scoring={"n_eval": 50})
    key = cache_key(_vae(), **base)
    assert key == cache_key(_vae(), **base)
    other_spec = _vae()
    other_spec = Candidate(other_spec.name, {**other_spec.spec, "config": {**other_spec.spec["config"], "beta": 4.0}},
                           other_spec.epochs, other_spec.batch_size)
    changed = [cache_key(other_spec, **base), cache_key(_vae(seed=1), **base),
               cache_key(_vae(binarized=True), **base), cache_key(_vae(), **{**base, "data": "e"}),
               cache_key(_vae(), **{**base, "classifier": "k"}), cache_key(_vae(), **{**base, "scoring": {"n_eval": 51}})]
    assert len({key, *changed}) == 7
    # a changed source file of the model: copy the package, edit vae.py, point the key at the copy
    import shutil

    copy = tmp_path / "gentut"
    shutil.copytree(comparison.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "weights"))
    monkeypatch.setattr(comparison, "PACKAGE", copy)
    assert cache_key(_vae(), **base) == key
    (copy / "models" / "gan.py").write_text((copy / "models" / "gan.py").read_text() + "\n# an edit\n")
    assert cache_key(_vae(), **base) == key  # the VAE does not depend on the GAN's file
    (copy / "models" / "vae.py").write_text((copy / "models" / "vae.py").read_text() + "\n# an edit\n")
    assert cache_key(_vae(), **base) != key


def test_code_files_name_the_objective_its_networks_and_the_shared_code():
    files = code_files(_vae().spec)
    assert {"models/vae.py", "models/networks.py", "trainer.py", "metrics/samples.py", "comparison.py"} <= set(files)
    assert "models/gan.py" not in files
    from gentut.models.vaegan import build_vaegan, vaegan_optimizers

    model = build_vaegan(4, width=8)
    vaegan = candidate("VAE-GAN", model, vaegan_optimizers(model), epochs=1)
    assert {"models/vaegan.py", "models/vae.py"} <= set(code_files(vaegan.spec))  # its base class too


def test_a_stopped_run_resumes_from_its_checkpoint(data, classifier, tmp_path, monkeypatch):
    calls = []
    real_score = comparison.score_model

    def stop_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # training finished and checkpointed, then the run was stopped
        return real_score(*args, **kwargs)

    monkeypatch.setattr(comparison, "score_model", stop_once)
    with pytest.raises(KeyboardInterrupt):
        _run([_ae(epochs=2)], data, classifier, tmp_path)
    assert list(tmp_path.glob("ae-*.pt")) and not list(tmp_path.glob("ae-*.json"))
    result = _run([_ae(epochs=2)], data, classifier, tmp_path)[0]
    assert result["resumed"] and result["steps"] == 10
    fresh = _run([_ae(epochs=2)], data, classifier, tmp_path / "fresh")[0]
    assert result["mse"] == fresh["mse"]  # the resumed run ends where an uninterrupted one does


def test_a_result_file_of_another_key_is_not_used(data, classifier, tmp_path):
    first = _run([_ae()], data, classifier, tmp_path)[0]
    path = next(tmp_path.glob("ae-*.json"))
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "key": "0" * 64, "mse": -1.0}))
    again = _run([_ae()], data, classifier, tmp_path)[0]
    assert not again["from_cache"] and again["mse"] == first["mse"]


@pytest.mark.parametrize("make, error, message", [
    (lambda: Candidate("x", {"model": "flow"}, 1), SpecError, "spec must be a model spec of one of"),
    (lambda: Candidate("x", {**_vae().spec, "optimizers": {}}, 1), SpecError, "names no optimizers"),
    (lambda: Candidate("x", _vae().spec, 0), ValueError, "x: epochs must be an int >= 1, got 0"),
    (lambda: Candidate("x", _vae().spec, 1, batch_size=True), ValueError, "batch_size must be an int >= 1, got True"),
    (lambda: Candidate("", _vae().spec, 1), ValueError, "name must be a non-empty string"),
])
def test_bad_candidates_are_refused_with_what_was_expected(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_names_must_be_distinct(data, classifier, tmp_path):
    with pytest.raises(ValueError, match="candidate names must be distinct"):
        _run([_ae(), _ae()], data, classifier, tmp_path)


def test_the_ten_models_of_the_book_train_and_score_at_toy_size(data, classifier, tmp_path):
    from gentut.comparison import book_candidates

    candidates = book_candidates(1, width=8)
    assert [c.name for c in candidates] == [
        "Autoencoder", "Denoising autoencoder", "VAE", "beta-VAE (beta = 4)", "Conditional VAE", "GAN (MLP)",
        "WGAN-GP (MLP)", "DCGAN", "Conditional DCGAN", "VAE-GAN"]
    results = _run(candidates, data, classifier, tmp_path)
    for result in results:
        samples_defined = result["family"] != "autoencoder"
        assert (result["fd"] is not None) == samples_defined, result["name"]
        assert (result["mse"] is not None) == (result["family"] != "gan"), result["name"]
        assert (result["log_likelihood"] is not None) == (result["family"] == "vae"), result["name"]
    with pytest.raises(ValueError, match=r"unknown candidates \['Flow'\]"):
        book_candidates(1, names=["VAE", "Flow"])
