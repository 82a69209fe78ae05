import pytest
import torch

from gentut.data import load_book_images
from gentut.data.synthetic_digits import make_synthetic_digits


@pytest.fixture(scope="module")
def digits():
    return make_synthetic_digits(500, seed=0, split="train")


def test_shape_dtype_range_and_exact_zero_background(digits):
    x = digits.images
    assert x.shape == (500, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # MNIST-like: most pixels are exactly 0, strokes saturate at 1, edges are grey.
    assert (x == 0).float().mean() > 0.6
    assert ((x > 0) & (x < 1)).any()
    # The 20x20 box centred by mass rarely reaches the 28x28 edge (as in MNIST).
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
    assert (border.flatten(1).max(dim=1).values > 0).float().mean() < 0.05


def test_same_arguments_give_bitwise_same_images(digits):
    again = make_synthetic_digits(500, seed=0, split="train")
    assert torch.equal(again.images, digits.images) and torch.equal(again.labels, digits.labels)


def test_seeds_and_splits_differ(digits):
    other_seed = make_synthetic_digits(500, seed=1, split="train")
    test = make_synthetic_digits(500, seed=0, split="test")
    assert not torch.equal(other_seed.images, digits.images)
    assert not torch.equal(test.images, digits.images)


def test_labels_are_balanced(digits):
    counts = torch.bincount(digits.labels, minlength=10)
    assert counts.tolist() == [50] * 10
    assert digits.labels.dtype == torch.int64


def test_centre_of_mass_is_near_image_centre(digits):
    x = digits.images[:, 0]
    mass = x.sum(dim=(1, 2))
    positions = torch.arange(28, dtype=torch.float32)
    centre_y = (x.sum(dim=2) * positions).sum(dim=1) / mass
    centre_x = (x.sum(dim=1) * positions).sum(dim=1) / mass
    assert float((centre_y - 13.5).abs().max()) < 1.0
    assert float((centre_x - 13.5).abs().max()) < 1.0


def test_bounding_box_fits_20_pixels(digits):
    ink = digits.images[:, 0] > 0.5
    rows = ink.any(dim=2).float()
    cols = ink.any(dim=1).float()
    height, width = rows.sum(dim=1), cols.sum(dim=1)
    longer = torch.maximum(height, width)  # longer side of the bright part of each digit
    assert 18 <= float(longer.median()) <= 20
    assert float(longer.min()) >= 15 and float(longer.max()) <= 22


def test_classes_are_distinguishable_but_not_identical(digits):
    means = torch.stack([digits.images[digits.labels == c].mean(0).flatten() for c in range(10)])
    # nearest-class-mean classification on a fresh test set: well above chance, below perfect
    test = make_synthetic_digits(300, seed=0, split="test")
    distances = torch.cdist(test.images.flatten(1), means)
    accuracy = float((distances.argmin(1) == test.labels).float().mean())
    assert 0.5 < accuracy < 1.0


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="positive int"):
        make_synthetic_digits(0)
    with pytest.raises(ValueError, match="split must be one of"):
        make_synthetic_digits(10, split="validation")


def test_source_names_generator_and_seed(digits):
    assert digits.source.startswith("offline synthetic digits") and "seed 0" in digits.source
    assert digits.class_names == tuple("0123456789")


def test_book_images_in_smoke_profile_never_touch_network(monkeypatch, tmp_path):
    import gentut.data.download as download

    def no_network(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(download, "_open", no_network)
    monkeypatch.setattr(download.socket, "create_connection", no_network)
    monkeypatch.setenv("GENTUT_PROFILE", "smoke")
    data = load_book_images("mnist", "train", n=20, root=tmp_path)
    assert data.name == "synthetic-digits" and len(data) == 20
    assert data.source.startswith("MNIST is not on this machine and the smoke profile does not download")


def test_book_images_fall_back_in_one_clean_line_when_offline(monkeypatch, tmp_path):
    import gentut.data.download as download

    def unreachable(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setenv("GENTUT_PROFILE", "cpu")
    monkeypatch.delenv("GENTUT_OFFLINE", raising=False)
    monkeypatch.setattr(download.socket, "create_connection", unreachable)
    data = load_book_images("fashion-mnist", "test", n=10, root=tmp_path)
    assert data.name == "synthetic-digits"
    assert data.source == (
        "Fashion-MNIST is not on this machine and cannot be downloaded (offline); "
        "using offline synthetic digits (generated, seed 0, split 'test')"
    )  # no exception text, no paths


def test_gentut_offline_forces_synthetic(monkeypatch, tmp_path):
    monkeypatch.setenv("GENTUT_PROFILE", "cpu")
    monkeypatch.setenv("GENTUT_OFFLINE", "1")
    data = load_book_images("mnist", "test", n=10, root=tmp_path)
    assert data.name == "synthetic-digits" and "GENTUT_OFFLINE" in data.source
