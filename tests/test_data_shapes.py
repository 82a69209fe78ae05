import math

import pytest
import torch

from gentut.data import FactorData, ImageData, make_shapes, render_shapes
from gentut.data.shapes import FACTOR_NAMES, FACTOR_SIZES, SHAPE_NAMES

SQUARE, ELLIPSE, HEART = range(3)
CENTRE = 5  # a position index near the middle: the centre sits at pixel 13.5, the image's centre


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(800, seed=0)


def _render(shape=SQUARE, scale=5, rotation=0, x=CENTRE, y=CENTRE):
    return render_shapes(torch.tensor([[shape, scale, rotation, x, y]]))[0, 0]  # (28, 28)


def _centre_of_mass(image):
    """(column, row) of the ink's centre, in pixels, with pixel i spanning [i, i + 1]."""
    coordinates = torch.arange(28) + 0.5
    mass = image.sum()
    return float((image.sum(0) * coordinates).sum() / mass), float((image.sum(1) * coordinates).sum() / mass)


def test_images_and_factors_have_the_documented_shapes_dtypes_and_ranges(shapes):
    assert isinstance(shapes, FactorData) and len(shapes) == 800
    assert shapes.images.shape == (800, 1, 28, 28) and shapes.images.dtype == torch.float32
    assert float(shapes.images.min()) == 0.0 and float(shapes.images.max()) == 1.0
    assert ((shapes.images > 0) & (shapes.images < 1)).any()  # anti-aliased edges
    assert shapes.factors.shape == (800, 5) and shapes.factors.dtype == torch.int64
    assert shapes.factor_names == FACTOR_NAMES == ("shape", "scale", "rotation", "x_position", "y_position")
    assert shapes.factor_sizes == FACTOR_SIZES == (3, 6, 16, 12, 12)
    assert shapes.shape_names == SHAPE_NAMES == ("square", "ellipse", "heart")
    for k, size in enumerate(FACTOR_SIZES):  # every value of every factor occurs, none outside
        assert torch.equal(shapes.factors[:, k].unique(), torch.arange(size))
        assert len(shapes.factor_values[k]) == size


def test_factor_values_are_the_documented_physical_values(shapes):
    shape, scale, rotation, x, y = shapes.factor_values
    assert shape.tolist() == [0, 1, 2]
    assert torch.allclose(scale, torch.linspace(0.5, 1.0, 6, dtype=scale.dtype))
    assert torch.allclose(rotation, torch.arange(16, dtype=rotation.dtype) * math.pi / 8)
    assert x.tolist() == y.tolist() == [8.5 + k for k in range(12)]


def test_same_seed_gives_bitwise_same_data_and_other_seeds_differ(shapes):
    again = make_shapes(800, seed=0)
    assert torch.equal(again.images, shapes.images) and torch.equal(again.factors, shapes.factors)
    assert not torch.equal(make_shapes(800, seed=1).factors, shapes.factors)


def test_render_shapes_reproduces_make_shapes_from_the_factors(shapes):
    assert torch.equal(render_shapes(shapes.factors), shapes.images)


def test_every_shape_stays_inside_the_image(shapes):
    images = shapes.images[:, 0]
    assert (images.flatten(1).sum(1) > 10).all()  # never empty
    # The disc holding a shape reaches at most half a pixel into the outermost pixels.
    border = torch.cat([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], dim=1)
    assert float(border.max()) <= 0.5


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
def test_moving_x_or_y_by_one_step_shifts_the_centre_of_mass_one_pixel_right_or_down(shape):
    x0, y0 = _centre_of_mass(_render(shape, rotation=3, x=2, y=7))
    x1, y1 = _centre_of_mass(_render(shape, rotation=3, x=3, y=7))
    x2, y2 = _centre_of_mass(_render(shape, rotation=3, x=3, y=8))
    assert x1 - x0 == pytest.approx(1.0, abs=1e-4) and y1 == pytest.approx(y0, abs=1e-4)
    assert y2 - y1 == pytest.approx(1.0, abs=1e-4) and x2 == pytest.approx(x1, abs=1e-4)


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE])
def test_symmetric_shapes_are_centred_on_their_position_value(shape):
    for x, y in [(0, 11), (5, 5), (11, 3)]:
        column, row = _centre_of_mass(_render(shape, rotation=5, x=x, y=y))
        assert (column, row) == pytest.approx((8.5 + x, 8.5 + y), abs=1e-4)


@pytest.mark.parametrize(
    "shape, area_at_unit_radius",
    [(SQUARE, 2.0), (ELLIPSE, math.pi * 0.5), (HEART, 2.5116 / 1.17**2)],  # areas of the implicit regions
)
def test_ink_grows_with_scale_as_the_area_of_the_shape(shape, area_at_unit_radius):
    ink = [float(_render(shape, scale=s, rotation=1).sum()) for s in range(6)]
    assert all(a < b for a, b in zip(ink, ink[1:]))
    for s, value in enumerate(ink):
        radius = 8 * (0.5 + 0.1 * s)  # pixels
        assert value == pytest.approx(area_at_unit_radius * radius**2, rel=0.05)


def test_rotation_leaves_squares_every_quarter_turn_and_ellipses_every_half_turn_unchanged():
    assert torch.allclose(_render(SQUARE, rotation=4), _render(SQUARE, rotation=0), atol=1e-6)
    assert torch.allclose(_render(ELLIPSE, rotation=8), _render(ELLIPSE, rotation=0), atol=1e-6)
    assert (_render(SQUARE, rotation=2) - _render(SQUARE, rotation=0)).abs().sum() > 20
    assert (_render(ELLIPSE, rotation=4) - _render(ELLIPSE, rotation=0)).abs().sum() > 20


def test_rotation_turns_the_heart_counter_clockwise_from_tip_down():
    images = {r: _render(HEART, rotation=r) for r in (0, 4, 8)}
    assert (images[4] - images[0]).abs().sum() > 20 and (images[8] - images[0]).abs().sum() > 20
    centre = 13.5
    column, row = _centre_of_mass(images[0])
    assert row < centre - 0.5 and column == pytest.approx(centre, abs=1e-4)  # tip down: mass above
    column, row = _centre_of_mass(images[4])
    assert column < centre - 0.5  # a quarter turn counter-clockwise: tip right, mass left
    column, row = _centre_of_mass(images[8])
    assert row > centre + 0.5  # half a turn: tip up


def test_the_three_shapes_differ_even_at_the_smallest_scale():
    smallest = [_render(shape, scale=0, rotation=2) for shape in (SQUARE, ELLIPSE, HEART)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert (smallest[i] - smallest[j]).abs().sum() > 5


def test_to_image_data_labels_images_by_shape(shapes):
    data = shapes.to_image_data()
    assert isinstance(data, ImageData) and data.name == "shapes"
    assert torch.equal(data.labels, shapes.factor("shape")) and data.class_names == SHAPE_NAMES
    assert torch.equal(data.images, shapes.images)
    batch = next(iter(data.loader(32).epoch(0)))
    assert batch.x.shape == (32, 1, 28, 28) and batch.y.shape == (32,)


def test_factor_by_name_and_unknown_names(shapes):
    assert torch.equal(shapes.factor("rotation"), shapes.factors[:, 2])
    with pytest.raises(ValueError, match="unknown factor 'colour'; factors are shape, scale"):
        shapes.factor("colour")


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        make_shapes(0)
    with pytest.raises(TypeError, match="seed must be an int"):
        make_shapes(5, seed=1.5)
    with pytest.raises(TypeError, match="integer indices"):
        render_shapes(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"shape \(N, 5\).*got \(2, 4\)"):
        render_shapes(torch.zeros(2, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"factor 'rotation' \(column 2\) must be in \[0, 15\], got values \[16\]"):
        render_shapes(torch.tensor([[0, 0, 16, 0, 0]]))
    with pytest.raises(ValueError, match=r"'shape' \(column 0\) must be in \[0, 2\], got values \[-1\]"):
        render_shapes(torch.tensor([[-1, 0, 0, 0, 0]]))
