import pytest
import torch

from gentut.data import ImageData, binarize


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def test_pixels_become_zeros_and_ones_of_the_same_shape_and_dtype():
    images = torch.rand(10, 1, 8, 8)
    binary = binarize(images, generator=_generator(0))
    assert binary.shape == images.shape and binary.dtype == torch.float32
    assert set(binary.unique().tolist()) <= {0.0, 1.0}


def test_black_stays_black_and_white_stays_white():
    images = torch.tensor([0.0, 1.0]).repeat(1000).view(-1, 1, 2, 1)
    binary = binarize(images, generator=_generator(0))
    assert torch.equal(binary, images)


def test_each_pixel_is_one_with_probability_equal_to_its_grey_value():
    grey = torch.tensor([0.1, 0.3, 0.5, 0.9]).view(1, 1, 2, 2)
    draws = binarize(grey.expand(20_000, 1, 2, 2), generator=_generator(0))
    frequency = draws.mean(dim=0)  # (1, 2, 2)
    # standard error sqrt(p (1 - p) / 20000) <= 0.0036
    assert torch.allclose(frequency, grey[0], atol=0.015)


def test_a_seeded_generator_gives_the_same_draw_and_other_seeds_differ():
    images = torch.rand(4, 1, 28, 28, generator=_generator(5))
    first = binarize(images, generator=_generator(1))
    assert torch.equal(binarize(images, generator=_generator(1)), first)
    assert not torch.equal(binarize(images, generator=_generator(2)), first)
    assert torch.equal(images, torch.rand(4, 1, 28, 28, generator=_generator(5)))  # input untouched


def test_bad_images_raise_clear_errors():
    with pytest.raises(TypeError, match=r"got torch.uint8; use images.float\(\) / 255"):
        binarize(torch.zeros(1, 1, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        binarize([[0.5]])
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*max 2"):
        binarize(torch.full((1, 1, 2, 2), 2.0))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        binarize(torch.tensor([float("nan")]))


def test_image_data_binarized_is_a_fixed_binarisation_keeping_the_labels():
    data = ImageData.from_tensor(torch.rand(6, 1, 4, 4), torch.arange(6), "mine", source="my data")
    binary = data.binarized(3)
    assert torch.equal(binary.images, data.binarized(3).images)
    assert not torch.equal(binary.images, data.binarized(4).images)
    assert set(binary.images.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(binary.labels, data.labels)
    assert binary.name == "mine-binarized" and "binarised (seed 3)" in binary.source
    assert not set(data.images.unique().tolist()) <= {0.0, 1.0}  # the original is unchanged
    with pytest.raises(TypeError, match="seed must be an int"):
        data.binarized(0.5)
