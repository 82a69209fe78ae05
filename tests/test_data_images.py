import pytest
import torch

from gentut.data import ImageData, InMemoryLoader, load_images
from gentut.data.sklearn_digits import load_sklearn_digits


def _data(n=20):
    return ImageData.from_tensor(torch.rand(n, 1, 6, 6), torch.arange(n) % 5, name="toy")


def test_from_tensor_checks_and_keeps_data():
    data = _data()
    assert len(data) == 20 and data.image_shape == (1, 6, 6)
    assert data.labels.dtype == torch.int64 and data.name == "toy"
    assert "your own data" in data.source


def test_from_tensor_rejects_uint8_with_clear_message():
    with pytest.raises(TypeError, match="255"):
        ImageData.from_tensor(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


def test_image_data_is_frozen():
    data = _data()
    with pytest.raises(AttributeError):
        data.name = "other"


def test_subset_by_count_and_index():
    data = _data()
    assert len(data.subset(5)) == 5
    picked = data.subset([3, 7])
    assert torch.equal(picked.images, data.images[[3, 7]])
    assert picked.labels.tolist() == [3, 2]
    with pytest.raises(ValueError, match=r"\[1, 20\], got 21"):
        data.subset(21)


def test_exclude_and_only_classes():
    data = _data()
    rest = data.exclude_classes(0, 1)
    assert set(rest.labels.tolist()) == {2, 3, 4} and len(rest) == 12
    assert set(data.only_classes(4).labels.tolist()) == {4}


def test_where_takes_bool_mask():
    data = _data()
    assert len(data.where(data.labels == 2)) == 4
    with pytest.raises(TypeError, match="bool tensor"):
        data.where(data.labels)


def test_loader_yields_all_examples_reproducibly():
    data = _data()
    loader = data.loader(batch_size=8, seed=3)
    assert isinstance(loader, InMemoryLoader) and len(loader) == 3
    first = torch.cat([b.y for b in loader.epoch(0)])
    again = torch.cat([b.y for b in data.loader(batch_size=8, seed=3).epoch(0)])
    assert torch.equal(first, again) and sorted(first.tolist()) == sorted(data.labels.tolist())


def test_load_images_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="synthetic-digits.*sklearn-digits.*mnist.*fashion-mnist"):
        load_images("cifar10")


def test_load_images_synthetic_by_name():
    data = load_images("synthetic-digits", "test", n=30, seed=1)
    assert data.images.shape == (30, 1, 28, 28) and data.name == "synthetic-digits"


def test_sklearn_digits_range_shape_and_stratified_split():
    train, test = load_sklearn_digits("train"), load_sklearn_digits("test")
    assert train.images.shape[1:] == (1, 8, 8) and len(train) + len(test) == 1797
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) == 1.0
    share = torch.bincount(test.labels, minlength=10) / torch.bincount(
        torch.cat([train.labels, test.labels]), minlength=10
    )
    assert torch.all((share - 0.2).abs() < 0.01)
    assert torch.equal(load_sklearn_digits("test").images, test.images)  # deterministic


def test_sklearn_digits_upsampled_to_28():
    data = load_sklearn_digits("test", size=28)
    assert data.images.shape[1:] == (1, 28, 28)
    assert 0.0 <= float(data.images.min()) and float(data.images.max()) <= 1.0
