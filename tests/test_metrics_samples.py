"""Sample-quality metrics against their closed forms, and the cached feature classifier."""
import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from gentut.metrics import samples as evaluation
from gentut.checkpoint import load_checkpoint
from gentut.data import ImageData, make_synthetic_digits
from gentut.metrics.samples import (
    CLASSIFIER_VERSION,
    class_probabilities,
    classifier_score,
    density_coverage,
    evaluate_generator,
    extract_features,
    format_metrics,
    frechet_distance,
    load_or_train_classifier,
    precision_recall,
)
from gentut.models.classifier import DigitClassifier


pytestmark = pytest.mark.usefixtures("one_thread")


def _with_moments(mean, variances, n=400, seed=0):
    """n points whose sample mean is exactly `mean` and sample covariance exactly diag(variances)."""
    rng = np.random.default_rng(seed)
    d = len(mean)
    z = rng.standard_normal((n, d))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whitened: cov = I
    return z * np.sqrt(variances) + mean


# --- Frechet distance ----------------------------------------------------------------------------


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    # ||mu_a - mu_b||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 for diagonal covariances
    mean_a, var_a = np.array([0.0, 1.0, -2.0]), np.array([1.0, 4.0, 0.25])
    mean_b, var_b = np.array([1.0, 1.0, 0.0]), np.array([9.0, 1.0, 0.25])
    a, b = _with_moments(mean_a, var_a, seed=0), _with_moments(mean_b, var_b, seed=1)
    expected = ((mean_a - mean_b) ** 2).sum() + ((np.sqrt(var_a) - np.sqrt(var_b)) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(torch.from_numpy(b).float(), torch.from_numpy(a).float()) == pytest.approx(expected, rel=1e-5)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5))
    b = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real  # the common (complex-valued) route
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_is_finite_and_warning_free_for_singular_covariances():
    rng = np.random.default_rng(0)
    few = rng.standard_normal((20, 64))  # N < D: rank-deficient covariances
    many_zeros = np.maximum(rng.standard_normal((200, 64)), 0)
    many_zeros[:, :10] = 0  # dead ReLU units: zero variance
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = frechet_distance(few, many_zeros)
    assert np.isfinite(value) and value > 0


def test_frechet_distance_rejects_bad_features():
    with pytest.raises(ValueError, match="same feature size, got 4 and 5"):
        frechet_distance(torch.randn(10, 4), torch.randn(10, 5))
    with pytest.raises(ValueError, match=r"features_a must have shape \(N, D\) with N >= 2"):
        frechet_distance(torch.randn(10), torch.randn(10, 1))
    with pytest.raises(ValueError, match="finite"):
        frechet_distance(torch.full((10, 2), float("nan")), torch.randn(10, 2))
    with pytest.raises(TypeError, match="tensor or numpy array"):
        frechet_distance([[1.0, 2.0]], torch.randn(10, 2))


# --- classifier score ----------------------------------------------------------------------------


def test_classifier_score_of_uniform_predictions_is_one():
    assert classifier_score(torch.full((50, 10), 0.1)) == pytest.approx(1.0)


def test_classifier_score_of_confident_balanced_predictions_is_the_number_of_classes():
    probabilities = torch.eye(10).repeat(7, 1)  # each class 7 times, each with certainty
    assert classifier_score(probabilities) == pytest.approx(10.0)


def test_classifier_score_of_one_confident_class_is_one():
    assert classifier_score(torch.eye(10)[[3] * 20]) == pytest.approx(1.0)


def test_classifier_score_of_half_the_classes_is_half():
    # confident on classes 0-4 only: exp(log 5) = 5
    assert classifier_score(torch.eye(10)[torch.arange(40) % 5]) == pytest.approx(5.0)


def test_classifier_score_rejects_rows_that_are_not_distributions():
    with pytest.raises(ValueError, match="rows summing to 1"):
        classifier_score(torch.rand(5, 10))
    with pytest.raises(ValueError, match="rows summing to 1"):
        classifier_score(torch.tensor([[1.5, -0.5]]))


# --- precision, recall, density, coverage --------------------------------------------------------


def _clusters(modes, per_mode, seed, spread=0.1):
    """Points around well-separated centres 10 * e_m of R^10, `per_mode` per listed mode.

    The noise lies in a 2-D plane, where a few dozen points per mode fill out their k-NN balls
    (in 10-D the balls of 40 points miss much of a fresh sample's tails)."""
    generator = torch.Generator().manual_seed(seed)
    centres = 10 * torch.eye(10, dtype=torch.float64)[list(modes)]
    points = centres.repeat_interleave(per_mode, dim=0)
    points[:, :2] += spread * torch.randn(len(points), 2, generator=generator, dtype=torch.float64)
    return points


def test_identical_sets_have_full_precision_recall_and_coverage():
    real = _clusters(range(10), 30, seed=0)
    assert precision_recall(real, real.clone(), k=3) == (1.0, 1.0)
    density, coverage = density_coverage(real, real.clone(), k=5)
    assert coverage == 1.0
    # each real ball holds its centre and its k neighbours: density = N (k + 1) / (k N)
    assert density == pytest.approx(6 / 5)


def test_far_apart_sets_have_zero_precision_recall_density_and_coverage():
    real = _clusters(range(5), 30, seed=0)
    fake = real + 1000.0
    assert precision_recall(real, fake) == (0.0, 0.0)
    assert density_coverage(real, fake) == (0.0, 0.0)


def test_fake_on_half_the_modes_has_high_precision_and_half_the_recall():
    real = _clusters(range(10), 40, seed=0)
    fake = _clusters(range(5), 80, seed=1)  # as many points, all on modes 0-4
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.9
    assert recall == pytest.approx(0.5, abs=0.06)
    density, coverage = density_coverage(real, fake, k=5)
    assert coverage == pytest.approx(0.5, abs=0.06)
    # density is per generated point: samples drawn like the reals on the modes they keep sit
    # in about k real balls each, however many of them crowd onto those modes
    assert density == pytest.approx(1.0, abs=0.2)


def test_an_outlier_inflates_recall_but_not_coverage():
    # Naeem et al.'s point: one far fake point with a huge k-NN ball "recalls" everything.
    real = _clusters(range(10), 20, seed=0)
    fake = torch.cat([_clusters([0], 3, seed=1), torch.full((1, 10), 500.0, dtype=torch.float64)])
    _, recall = precision_recall(real, fake, k=3)
    _, coverage = density_coverage(real, fake, k=3)
    assert recall == 1.0
    assert coverage <= 0.1


def test_blocked_distances_give_the_same_answers(monkeypatch):
    real, fake = _clusters(range(10), 30, seed=0), _clusters(range(7), 40, seed=1)
    expected = precision_recall(real, fake), density_coverage(real, fake)
    monkeypatch.setattr(evaluation, "DISTANCE_BLOCK_ELEMENTS", 1000)  # blocks of 3-4 rows
    assert (precision_recall(real, fake), density_coverage(real, fake)) == expected


def test_nearest_neighbour_metrics_reject_bad_k():
    real = _clusters(range(2), 2, seed=0)
    with pytest.raises(ValueError, match=r"real_features has 4 points, too few for k = 4.*at least 5"):
        precision_recall(real, real, k=4)
    with pytest.raises(ValueError, match=r"fake_features has 3 points, too few for k = 3.*at least 4"):
        precision_recall(real, real[:3], k=3)
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        density_coverage(real, real, k=0)


# --- features and the one-call evaluation -------------------------------------------------------


def test_features_and_probabilities_are_batched_on_the_cpu_without_gradients():
    torch.manual_seed(0)
    classifier = DigitClassifier().train()
    images = torch.rand(23, 1, 28, 28)
    features = extract_features(classifier, images, batch_size=5)
    assert features.shape == (23, 128) and features.device.type == "cpu" and not features.requires_grad
    assert torch.allclose(features, extract_features(classifier, images, batch_size=500), atol=1e-6)
    probabilities = class_probabilities(classifier, ImageData.from_tensor(images), batch_size=7)
    assert probabilities.shape == (23, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(23), atol=1e-5)
    assert classifier.training  # the mode is restored


def test_features_reject_what_is_not_a_classifier_or_images():
    with pytest.raises(TypeError, match="nn.Module with features"):
        extract_features(torch.nn.Linear(2, 2), torch.rand(3, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got 3-D shape \(3, 28, 28\)"):
        extract_features(DigitClassifier(), torch.rand(3, 28, 28))


def test_evaluate_generator_returns_every_metric_and_a_table_prints_them():
    torch.manual_seed(0)
    classifier = DigitClassifier()
    real = torch.rand(40, 1, 28, 28)
    metrics = evaluate_generator(real, real, classifier)
    assert set(metrics) == {"fd", "score", "precision", "recall", "coverage", "n_generated", "n_real"}
    assert metrics["n_generated"] == metrics["n_real"] == 40
    assert metrics["fd"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["precision"] == metrics["recall"] == metrics["coverage"] == 1.0
    assert 1.0 <= metrics["score"] <= 10.0
    table = format_metrics({"real (held out)": metrics, "a model": {"fd": 12.5, "score": 3.0}})
    lines = table.splitlines()
    assert lines[0].split() == ["model", "FD", "score", "precision", "recall", "coverage", "N", "generated", "N", "real"]
    assert lines[1].startswith("real (held out)") and "0.000" in lines[1] and lines[1].split()[-2:] == ["40", "40"]
    assert lines[2].split()[-7:] == ["12.500", "3.000", "-", "-", "-", "-", "-"]
    assert "within this book only" in lines[-1]
    with pytest.raises(ValueError, match="non-empty dict"):
        format_metrics({})


def test_one_classifier_pass_gives_the_same_features_and_probabilities_as_two():
    torch.manual_seed(0)
    classifier = DigitClassifier()
    images = torch.rand(30, 1, 28, 28)
    features, probabilities = evaluation.classify(classifier, images, batch_size=7)
    assert torch.allclose(features, evaluation.extract_features(classifier, images), atol=1e-6)
    assert torch.allclose(probabilities, evaluation.class_probabilities(classifier, images), atol=1e-6)


# --- the cached classifier ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return make_synthetic_digits(300, seed=0)


def _train(data, cache, **kwargs):
    return load_or_train_classifier(data, cache=cache, epochs=1, device="cpu", progress=False, **kwargs)


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_first_call_trains_and_caches_second_call_loads_the_same_weights(digits, tmp_path, capsys):
    trained, info = _train(digits, tmp_path)
    out = capsys.readouterr().out
    assert "trained on 300 synthetic-digits images for 1 epoch in" in out and "loaded" not in out
    assert not info.from_cache and info.accuracy is None
    path = tmp_path / f"synthetic-digits-{info.data_hash[:12]}-seed0-1ep.pt"
    assert info.path == str(path) and path.is_file()
    metadata = load_checkpoint(path)["metadata"]
    assert metadata["version"] == CLASSIFIER_VERSION
    assert (metadata["data_name"], metadata["num_images"], metadata["seed"], metadata["epochs"]) == (
        "synthetic-digits", 300, 0, 1
    )
    assert metadata["data_hash"] == evaluation.data_fingerprint(digits)

    loaded, loaded_info = _train(digits, tmp_path)
    assert "loaded from cache" in capsys.readouterr().out
    assert loaded_info.from_cache and loaded_info.data_hash == info.data_hash
    assert _same_weights(trained, loaded)
    assert not loaded.training


def test_training_is_reproducible_from_the_seed(digits, tmp_path):
    first, _ = _train(digits, tmp_path / "one")
    second, _ = _train(digits, tmp_path / "two")
    third, _ = _train(digits, tmp_path / "three", seed=1)
    assert _same_weights(first, second)
    assert not _same_weights(first, third)


def test_changed_data_is_retrained(digits, tmp_path, capsys):
    _, info = _train(digits, tmp_path)
    images = digits.images.clone()
    images[0, 0, 0, 0] = 0.5  # one pixel differs
    changed = ImageData(images, digits.labels, name=digits.name)
    capsys.readouterr()
    _, changed_info = _train(changed, tmp_path)
    assert "trained" in capsys.readouterr().out
    assert changed_info.data_hash != info.data_hash and changed_info.path != info.path


def test_a_version_bump_retrains_and_replaces_the_file(digits, tmp_path, capsys):
    _, info = _train(digits, tmp_path)
    capsys.readouterr()
    _, bumped = _train(digits, tmp_path, version=CLASSIFIER_VERSION + 1)
    out = capsys.readouterr().out
    assert "does not match (version 1 (wanted 2))" in out and "trained" in out
    assert bumped.path == info.path  # the same file, replaced
    assert load_checkpoint(info.path)["metadata"]["version"] == CLASSIFIER_VERSION + 1


def test_a_corrupt_cache_file_is_retrained_with_a_note(digits, tmp_path, capsys):
    _, info = _train(digits, tmp_path)
    with open(info.path, "wb") as handle:
        handle.write(b"not a checkpoint")
    capsys.readouterr()
    model, again = _train(digits, tmp_path)
    out = capsys.readouterr().out
    assert "is not usable" in out and "not using it" in out and "trained on 300" in out
    assert not again.from_cache
    assert load_checkpoint(info.path)["metadata"]["data_hash"] == info.data_hash  # repaired


def test_held_out_accuracy_is_stored_and_recomputed_for_other_held_out_data(digits, tmp_path, capsys):
    test = make_synthetic_digits(100, seed=0, split="test")
    _, info = _train(digits, tmp_path, eval_data=test)
    assert 0.0 <= info.accuracy <= 1.0
    assert "held-out accuracy" in capsys.readouterr().out
    _, same = _train(digits, tmp_path, eval_data=test)
    assert same.from_cache and same.accuracy == info.accuracy
    other = test.subset(50)
    model, recomputed = _train(digits, tmp_path, eval_data=other)
    assert recomputed.accuracy == pytest.approx(model.accuracy(other.images, other.labels))


def test_default_cache_is_the_data_cache_directory(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("GENTUT_DATA", str(tmp_path))
    _, info = load_or_train_classifier(digits, epochs=1, device="cpu", progress=False)
    assert info.path.startswith(str(tmp_path / "classifiers"))


def _ship(info, folder):
    """Put a trained classifier's file into a stand-in for gentut/weights, listed with its SHA-256."""
    folder.mkdir()
    shipped = folder / Path(info.path).name
    shutil.copy(info.path, shipped)
    (folder / "SHA256SUMS").write_text(f"{hashlib.sha256(shipped.read_bytes()).hexdigest()}  {shipped.name}\n")
    return shipped


def test_a_shipped_classifier_is_loaded_before_the_cache_and_nothing_is_trained(digits, tmp_path, monkeypatch,
                                                                                 capsys):
    trained, info = _train(digits, tmp_path / "made")
    monkeypatch.setattr(evaluation, "SHIPPED_DIR", tmp_path / "weights")
    _ship(info, tmp_path / "weights")
    capsys.readouterr()
    loaded, loaded_info = _train(digits, tmp_path / "cache")
    out = capsys.readouterr().out
    assert f"loaded from the package (gentut/weights/{Path(info.path).name}, SHA-256 checked)" in out
    assert loaded_info.from_cache and _same_weights(trained, loaded)
    assert not (tmp_path / "cache").exists()  # neither trained nor cached
    # shipped=False (how bench/ship_classifier.py makes the file) ignores it
    _, fresh = _train(digits, tmp_path / "cache", shipped=False)
    assert not fresh.from_cache and "trained on 300" in capsys.readouterr().out


def test_a_damaged_shipped_classifier_is_named_and_not_used(digits, tmp_path, monkeypatch, capsys):
    _, info = _train(digits, tmp_path / "made")
    monkeypatch.setattr(evaluation, "SHIPPED_DIR", tmp_path / "weights")
    shipped = _ship(info, tmp_path / "weights")
    damaged = bytearray(shipped.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # one bit, somewhere inside a weight
    shipped.write_bytes(bytes(damaged))
    capsys.readouterr()
    _, again = _train(digits, tmp_path / "cache")
    out = capsys.readouterr().out
    assert f"gentut/weights/{shipped.name} has SHA-256" in out and "not the listed" in out
    assert not again.from_cache and "trained on 300" in out


def test_a_malformed_sums_file_is_a_clear_error(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("abc  file.pt\n")
    with pytest.raises(ValueError, match="line 1: expected '<sha256>  <file name>', got 'abc  file.pt'"):
        evaluation.shipped_sums(tmp_path)
    assert evaluation.shipped_sums(tmp_path / "nowhere") == {}


def test_the_shipped_classifiers_are_intact_and_of_this_version():
    listed = evaluation.shipped_sums()
    assert listed, "gentut/weights/SHA256SUMS lists no classifier (run python bench/ship_classifier.py)"
    for name, digest in listed.items():
        path = evaluation.SHIPPED_DIR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{name} differs from SHA256SUMS"
        state = load_checkpoint(path)  # weights_only=True
        metadata = state["metadata"]
        assert metadata["version"] == CLASSIFIER_VERSION, (
            f"{name} was made by classifier version {metadata['version']}; rerun bench/ship_classifier.py")
        model = DigitClassifier(metadata["num_classes"], image_shape=tuple(metadata["image_shape"]))
        model.load_state_dict(state["model"])  # the architecture still fits the weights
        assert metadata["provenance"]["command"].startswith("python bench/ship_classifier.py")
        assert path.stat().st_size < 4_000_000  # small enough to ship


def test_the_classifier_needs_labelled_image_data(digits, tmp_path):
    with pytest.raises(ValueError, match="has no labels"):
        _train(ImageData(digits.images, name="unlabelled"), tmp_path)
    with pytest.raises(TypeError, match="must be a gentut.data.ImageData, got Tensor"):
        _train(digits.images, tmp_path)
    with pytest.raises(ValueError, match="epochs must be an int >= 1, got 0"):
        load_or_train_classifier(digits, cache=tmp_path, epochs=0)


# --- the ceiling: real data must beat distorted copies of itself ---------------------------------


@pytest.fixture(scope="module")
def trained_classifier(tmp_path_factory):
    torch.manual_seed(0)
    train = make_synthetic_digits(3_000, seed=1)
    classifier, _ = load_or_train_classifier(train, cache=tmp_path_factory.mktemp("classifiers"), epochs=2,
                                             device="cpu", progress=False)
    return classifier


def _distortions():
    """Held-out real digits, a reference set, and two families of distortions of rising strength."""
    reference = make_synthetic_digits(500, seed=2).images
    held_out = make_synthetic_digits(500, seed=3).images
    noise = torch.randn(held_out.shape, generator=torch.Generator().manual_seed(0))

    def blur(k):
        kernel = torch.ones(1, 1, 2 * k + 1, 2 * k + 1) / (2 * k + 1) ** 2
        return torch.nn.functional.conv2d(held_out, kernel, padding=k)

    return reference, {
        "noise": [held_out, *((held_out + s * noise).clamp(0, 1) for s in (0.1, 0.25, 0.5))],
        "blur": [held_out, blur(1), blur(2), blur(3)],
    }


@pytest.mark.parametrize("distortion", ["noise", "blur"])
def test_scores_get_worse_as_real_images_are_distorted(trained_classifier, distortion):
    # The property the book's ceiling row relies on: held-out real images score best, and the
    # further a set of images moves from real ones, the worse its scores.
    reference, families = _distortions()
    scores = [evaluate_generator(images, reference, trained_classifier) for images in families[distortion]]
    for key, better in (("fd", min), ("recall", max)):
        values = [s[key] for s in scores]
        assert values == sorted(values, reverse=better is max) and len(set(values)) == len(values), (key, values)
    for key in ("precision", "coverage"):  # from the second strength on: see the test below
        values = [s[key] for s in scores]
        assert values[0] > values[2] > values[3], (key, values)


def test_precision_has_no_real_data_ceiling_but_recall_and_fd_do(trained_classifier):
    # Precision asks only whether each image lies near some real one, so a set of smoothed, typical
    # images can score above held-out real images (measured on Fashion-MNIST too: blurred copies
    # 0.905 against real 0.892). Recall and FD still rank the real images first: the book therefore
    # reads precision beside recall and never alone.
    reference, families = _distortions()
    real = evaluate_generator(families["blur"][0], reference, trained_classifier)
    blurred = evaluate_generator(families["blur"][1], reference, trained_classifier)
    assert blurred["precision"] > real["precision"]  # 0.932 against 0.928 here (fixed seeds)
    assert blurred["recall"] < real["recall"] and blurred["fd"] > real["fd"]


def test_fd_infinity_removes_the_1_over_n_bias_of_two_samples_of_one_gaussian():
    # Two samples of the same Gaussian: the finite FD is pure bias, positive and shrinking in N;
    # its extrapolation to N = infinity is near the true 0 (the real set's own bias aside).
    rng = np.random.default_rng(0)
    real = rng.standard_normal((100_000, 8))  # many real images: their own bias is small
    fake = rng.standard_normal((4_000, 8))
    finite = [frechet_distance(real, fake[:n]) for n in (500, 1_000, 4_000)]
    assert finite == sorted(finite, reverse=True) and finite[0] > 0.01
    infinite = evaluation.frechet_distance_infinity(real, fake)
    assert abs(infinite) < finite[-1] / 2 and abs(infinite) < finite[0] / 8
    # a real difference survives: shifted means keep their squared distance, 8 * 0.5^2 = 2 (up to
    # the sampling error of the estimated means, about 0.05 here)
    assert evaluation.frechet_distance_infinity(real, fake + 0.5) == pytest.approx(2.0, abs=0.15)
    with pytest.raises(ValueError, match="at least two distinct subset sizes"):
        evaluation.frechet_distance_infinity(real, fake, sizes=[100])


def test_training_the_classifier_leaves_the_callers_random_numbers_alone(digits, tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _train(digits, tmp_path)  # trains (no cache yet)
    assert torch.equal(torch.rand(3), expected)
    torch.manual_seed(123)
    _train(digits, tmp_path)  # loads from the cache: the same stream either way
    assert torch.equal(torch.rand(3), expected)


# --- a cache file that reads fine but must not be used (issue 12) -------------------------------


def _rewrite_cache(path, change):
    """Load the cache file at `path`, let `change(state)` edit it, and save it back as gentut would."""
    from gentut.checkpoint import save_checkpoint

    state = load_checkpoint(path)
    del state["format_version"]
    change(state)
    save_checkpoint(path, state)


def _retrained_after(digits, tmp_path, capsys, change):
    trained, info = _train(digits, tmp_path)
    _rewrite_cache(Path(info.path), change)
    capsys.readouterr()
    again, again_info = _train(digits, tmp_path)
    out = capsys.readouterr().out
    assert not again_info.from_cache and "trained on 300" in out, out
    assert _same_weights(trained, again)  # the retrained classifier, not the doctored one
    return out


def test_a_cached_classifier_with_nan_weights_is_retrained(digits, tmp_path, capsys):
    def poison(state):
        state["model"]["head.weight"][0, 0] = float("nan")

    out = _retrained_after(digits, tmp_path, capsys, poison)
    assert "is not usable (weights 'head.weight' are not finite tensors)" in out


def test_a_cached_classifier_whose_weights_were_replaced_is_retrained(digits, tmp_path, capsys):
    # Other weights of the same shapes under the same metadata: before the stored checksum they
    # were used silently (the probe's gave FD 10.6 and score 1.0).
    def swap(state):
        torch.manual_seed(123)
        other = DigitClassifier(10, image_shape=(1, 28, 28)).state_dict()
        state["model"] = {name: tensor.clone() for name, tensor in other.items()}

    out = _retrained_after(digits, tmp_path, capsys, swap)
    assert "do not match the checksum stored with them" in out


def test_a_cached_classifier_with_metadata_of_the_wrong_type_is_retrained_not_a_crash(digits, tmp_path, capsys):
    def wrong_type(state):
        state["metadata"]["accuracy"] = "high"  # would crash f"{100 * accuracy:.1f}" on load

    out = _retrained_after(digits, tmp_path, capsys, wrong_type)
    assert "metadata of the wrong type: accuracy is a str" in out


def test_a_cache_file_without_its_sections_names_them(digits, tmp_path, capsys):
    def drop(state):
        del state["metadata"]

    out = _retrained_after(digits, tmp_path, capsys, drop)
    assert "lacks the classifier cache section 'metadata'" in out


def test_a_cache_that_cannot_be_written_still_returns_the_trained_classifier(digits, tmp_path, capsys, monkeypatch):
    def full_disk(path, state):
        raise OSError(f"could not write the checkpoint {path} (the disk may be full)")

    monkeypatch.setattr(evaluation, "save_checkpoint", full_disk)
    model, info = _train(digits, tmp_path)
    out = capsys.readouterr().out
    assert "trained on 300" in out and "could not be cached" in out and "trains it again" in out
    assert isinstance(model, DigitClassifier) and not info.from_cache
    assert not list(tmp_path.glob("*.pt"))


def test_a_cache_folder_that_cannot_be_made_still_returns_the_trained_classifier(digits, tmp_path, capsys):
    # A real failure rather than a patched one (permissions do not stop root): the cache folder's
    # path is taken by a file, so the folder cannot be created.
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    model, info = _train(digits, blocked)
    out = capsys.readouterr().out
    assert "trained on 300" in out and "could not be cached" in out and not info.from_cache
    assert isinstance(model, DigitClassifier)


def test_weights_sha256_changes_with_any_value_name_or_shape():
    state = {"a": torch.zeros(2, 3), "b": torch.ones(4, dtype=torch.bfloat16)}
    digest = evaluation.weights_sha256(state)
    assert digest == evaluation.weights_sha256({name: t.clone() for name, t in state.items()})
    assert digest != evaluation.weights_sha256({**state, "a": torch.zeros(3, 2)})
    assert digest != evaluation.weights_sha256({"c": state["a"], "b": state["b"]})
    bumped = state["b"].clone()
    bumped[3] = 2
    assert digest != evaluation.weights_sha256({**state, "b": bumped})


# --- images and sample counts the metrics refuse (issue 12) --------------------------------------


class _FixedClassifier(torch.nn.Module):
    """Stands in for the feature classifier: features are the images' pixel means per row."""

    feature_dim = 28

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(28, 10)

    def features(self, x):
        return x.mean(dim=(1, 3))

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("images, hint", [
    (torch.rand(8, 1, 28, 28) * 255, r"; pixels in 0..255: divide by 255"),
    (torch.rand(8, 1, 28, 28) * 2 - 1, r"; pixels in \[-1, 1\] \(a tanh output\): map them with \(x \+ 1\) / 2"),
])
def test_metrics_refuse_images_outside_zero_one_and_name_the_fix(images, hint):
    # Before, these returned numbers: features of images the classifier never saw the like of.
    classifier, real = _FixedClassifier(), torch.rand(8, 1, 28, 28)
    with pytest.raises(ValueError, match="images must have values in \\[0, 1\\], got min .* and max .*" + hint):
        evaluate_generator(images, real, classifier)
    with pytest.raises(ValueError, match="images must have values in \\[0, 1\\]"):
        extract_features(classifier, images)


def test_metrics_accept_float_rounding_just_above_one():
    classifier, real = _FixedClassifier(), torch.rand(8, 1, 28, 28)
    blurred = torch.ones(8, 1, 28, 28) + 1e-6  # a filter's output on white pixels
    assert extract_features(classifier, blurred).shape == (8, 28)
    assert evaluate_generator(blurred, real, classifier)["n_generated"] == 8


@pytest.mark.parametrize("n_samples, n_real, message", [
    (3, 10, "samples has 3 images; evaluate_generator needs at least 4"),
    (10, 5, "real has 5 images; evaluate_generator needs at least 6"),
])
def test_evaluate_generator_names_the_set_with_too_few_images(n_samples, n_real, message):
    with pytest.raises(ValueError, match=message):
        evaluate_generator(torch.rand(n_samples, 1, 28, 28), torch.rand(n_real, 1, 28, 28), _FixedClassifier())
