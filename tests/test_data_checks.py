import numpy as np
import pytest
import torch

from gentut.data.checks import check_images, check_labels


def test_valid_images_pass_and_become_float32():
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    out = check_images(x)
    assert out.dtype == torch.float32 and out.shape == (3, 1, 4, 4)


def test_numpy_array_is_rejected_with_from_numpy_hint():
    with pytest.raises(TypeError, match=r"torch\.from_numpy"):
        check_images(np.zeros((2, 1, 4, 4), dtype=np.float32))


def test_uint8_is_rejected_with_divide_by_255_hint():
    with pytest.raises(TypeError, match=r"uint8.*/ 255"):
        check_images(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


def test_integer_dtype_is_rejected():
    with pytest.raises(TypeError, match="floating dtype"):
        check_images(torch.zeros(2, 1, 4, 4, dtype=torch.int64))


def test_three_dimensional_input_suggests_unsqueeze():
    with pytest.raises(ValueError, match=r"unsqueeze\(1\)"):
        check_images(torch.rand(2, 4, 4))


def test_wrong_rank_names_expected_shape():
    with pytest.raises(ValueError, match=r"4-D \(N, C, H, W\), got 2-D"):
        check_images(torch.rand(2, 16))


def test_empty_batch_is_rejected():
    with pytest.raises(ValueError, match="at least one image"):
        check_images(torch.rand(0, 1, 4, 4))


def test_non_finite_values_are_rejected():
    x = torch.rand(2, 1, 4, 4)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        check_images(x)


def test_out_of_range_reports_actual_min_and_max():
    with pytest.raises(ValueError, match=r"min -0\.5 and max 2"):
        check_images(torch.tensor([-0.5, 2.0]).view(1, 1, 1, 2))


def test_values_in_0_255_hint_division():
    with pytest.raises(ValueError, match="divide by 255"):
        check_images(torch.full((1, 1, 2, 2), 200.0))


def test_name_appears_in_messages():
    with pytest.raises(TypeError, match="^my_pixels"):
        check_images([1, 2], name="my_pixels")


def test_labels_become_int64():
    out = check_labels(torch.tensor([0.0, 3.0, 1.0]), 3)
    assert out.dtype == torch.int64 and out.tolist() == [0, 3, 1]


def test_labels_of_wrong_length_are_rejected():
    with pytest.raises(ValueError, match=r"shape \(4,\).*got \(3,\)"):
        check_labels(torch.tensor([0, 1, 2]), 4)


def test_fractional_labels_are_rejected():
    with pytest.raises(TypeError, match="whole numbers"):
        check_labels(torch.tensor([0.5, 1.0]), 2)
