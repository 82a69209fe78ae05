"""Exercise checkers of the autoencoder chapter: the reference passes, each typical mistake fails with its own message."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentut.exercises import (
    ExerciseCheckError,
    check_corruption,
    check_encoder_shapes,
    check_reconstruction_loss,
)
from gentut.losses import bernoulli_nll
from gentut.models import ConvEncoder, MLPEncoder


def test_check_error_is_an_assertion_error():
    assert issubclass(ExerciseCheckError, AssertionError)



# --- reconstruction loss -------------------------------------------------------------------------


def _reference_loss(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


def test_reconstruction_loss_checker_accepts_the_reference(capsys):
    assert check_reconstruction_loss(_reference_loss) is None
    check_reconstruction_loss(bernoulli_nll)
    assert capsys.readouterr().out.startswith("Correct: ")


def test_reconstruction_loss_checker_accepts_a_stable_hand_written_version():
    def by_hand(logits, x):
        per_pixel = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))
        return per_pixel.flatten(1).sum(1).mean()

    check_reconstruction_loss(by_hand)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda l, x: F.binary_cross_entropy_with_logits(l, x), "averaged over pixels"),
        (lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="sum"), "summed over the batch"),
        (lambda l, x: -_reference_loss(l, x), "sign is flipped"),
        (lambda l, x: F.binary_cross_entropy(l, x, reduction="sum") / len(x), "logits as probabilities"),
        (lambda l, x: _reference_loss(torch.sigmoid(l), x), "applied sigmoid twice"),
        (lambda l, x: _reference_loss(x, l), "arguments are swapped"),
        (lambda l, x: bernoulli_nll(l, x, reduction="none"), "one value per image"),
        (lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none"), "one value per pixel"),
        (lambda l, x: 2 * _reference_loss(l, x), r"is \d"),
    ],
)
def test_reconstruction_loss_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_reconstruction_loss(wrong)


def test_reconstruction_loss_checker_flags_an_unstable_naive_formula():
    def naive(logits, x):
        p = torch.sigmoid(logits)
        return (-(x * p.log() + (1 - x) * (1 - p).log())).flatten(1).sum(1).mean()

    with pytest.raises(ExerciseCheckError, match="not finite for logits of size 20-40"):
        check_reconstruction_loss(naive)


def _naive_softplus_loss(logits, x):
    # log(1 + exp(a)) - x * a: exact algebra, but exp overflows to inf for a > 88 in float32.
    return (torch.log(1 + torch.exp(logits)) - x * logits).flatten(1).sum(1).mean()


@pytest.mark.parametrize(
    "naive",
    [_naive_softplus_loss, lambda l, x: _naive_softplus_loss(l.double(), x.double())],
    ids=["float32", "float64"],
)
def test_reconstruction_loss_checker_flags_a_softplus_that_overflows_at_large_logits(naive):
    with pytest.raises(ExerciseCheckError, match="not finite at large logits") as caught:
        check_reconstruction_loss(naive)
    assert "overflows" in str(caught.value)
    assert "max(a, 0) - x*a + log1p(exp(-|a|))" in str(caught.value)


@pytest.mark.parametrize(
    "correct",
    [
        lambda l, x: (F.softplus(l) - x * l).flatten(1).sum(1).mean(),
        lambda l, x: (l.clamp(min=0) - x * l + torch.log1p(torch.exp(-l.abs()))).flatten(1).sum(1).mean(),
        lambda l, x: bernoulli_nll(l, x, reduction="none").mean(),
    ],
    ids=["softplus", "max-log1p", "mean-of-per-image-sums"],
)
def test_reconstruction_loss_checker_accepts_stable_forms_at_extreme_logits(correct, capsys):
    check_reconstruction_loss(correct)
    assert capsys.readouterr().out.startswith("Correct: ")


def test_reconstruction_loss_checker_reports_an_exception_from_reader_code():
    def broken(logits, x):
        raise RuntimeError("shapes do not match")

    with pytest.raises(ExerciseCheckError, match="raised RuntimeError: shapes do not match"):
        check_reconstruction_loss(broken)


# --- masking noise -------------------------------------------------------------------------------


def _reference_masking(x, noise_level):
    return x * (torch.rand_like(x) >= noise_level)


def test_corruption_checker_accepts_the_reference(capsys):
    assert check_corruption(_reference_masking) is None
    assert "Correct: " in capsys.readouterr().out


def _in_place(x, noise_level):
    x[torch.rand_like(x) < noise_level] = 0
    return x


def _shared_mask(x, noise_level):
    return x * (torch.rand(x.shape[-2:]) >= noise_level)


def _fixed_mask(x, noise_level):
    generator = torch.Generator().manual_seed(0)
    return x * (torch.rand(x.shape, generator=generator) >= noise_level)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_in_place, "changed its input x in place"),
        (lambda x, p: x * (torch.rand_like(x) < p), "zeroed 1 - noise_level"),
        (lambda x, p: F.dropout(x, p), "scaled by 1 / \\(1 - noise_level\\)"),
        (lambda x, p: (x + p * torch.randn_like(x)).clamp(0, 1), "0 or leave them unchanged"),
        (lambda x, p: _reference_masking(x, p / 2), "expected about"),
        (_shared_mask, "every image got the same mask"),
        (_fixed_mask, "two calls gave the same mask"),
        (lambda x, p: _reference_masking(x, p).flatten(1), "has shape"),
        (lambda x, p: x.numpy(), "should return a torch.Tensor"),
    ],
)
def test_corruption_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_corruption(wrong)


def _block_mask(x, noise_level):
    # One draw per 2x2 block: the right fraction of zeros, but neighbours are zeroed together.
    blocks = torch.rand(*x.shape[:-2], x.shape[-2] // 2, x.shape[-1] // 2) >= noise_level
    return x * blocks.repeat_interleave(2, -2).repeat_interleave(2, -1)


def _row_mask(x, noise_level):
    # One draw per image row.
    return x * (torch.rand(*x.shape[:-1], 1) >= noise_level)


def _column_mask(x, noise_level):
    return x * (torch.rand(*x.shape[:-2], 1, x.shape[-1]) >= noise_level)


@pytest.mark.parametrize(
    "wrong, pairs",
    [
        (_block_mask, "horizontal neighbours"),
        (_row_mask, "horizontal neighbours"),
        (_column_mask, "vertical neighbours"),
    ],
    ids=["2x2-blocks", "whole-rows", "whole-columns"],
)
def test_corruption_checker_flags_masks_that_are_not_independent_per_pixel(wrong, pairs):
    with pytest.raises(ExerciseCheckError, match=f"not zeroed independently: for {pairs}"):
        check_corruption(wrong)


@pytest.mark.parametrize(
    "wrong, dtype",
    [
        (lambda x, p: torch.rand_like(x) >= p, "torch.bool"),
        (lambda x, p: (torch.rand_like(x) >= p).long(), "torch.int64"),
        (lambda x, p: _reference_masking(x, p).double(), "torch.float64"),
    ],
    ids=["bool", "long", "float64"],
)
def test_corruption_checker_names_the_expected_and_the_returned_dtype(wrong, dtype):
    with pytest.raises(ExerciseCheckError, match="should return float images like its input") as caught:
        check_corruption(wrong)
    message = str(caught.value)
    assert "dtype torch.float32, shape (64, 1, 28, 28), values in [0, 1]" in message
    assert f"got a tensor of dtype {dtype} and shape (64, 1, 28, 28)" in message


@pytest.mark.parametrize(
    "correct",
    [
        lambda x, p: x.masked_fill(torch.rand_like(x) < p, 0),
        lambda x, p: torch.where(torch.rand_like(x) < p, torch.zeros_like(x), x),
        lambda x, p: x * torch.bernoulli(torch.full_like(x, 1 - p)),
    ],
    ids=["masked_fill", "where", "bernoulli"],
)
def test_corruption_checker_accepts_other_correct_masks(correct, capsys):
    check_corruption(correct)
    assert capsys.readouterr().out.startswith("Correct: ")


def test_corruption_checker_leaves_the_readers_rng_state_alone():
    # The checker fixes its own seed for the statistical checks inside fork_rng.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_corruption(_reference_masking)
    assert torch.equal(torch.rand(3), expected)


# --- encoder shapes ------------------------------------------------------------------------------


def test_encoder_shape_checker_accepts_book_encoders_and_restores_mode(capsys):
    encoder = ConvEncoder(4).train()
    check_encoder_shapes(encoder, 4)
    assert encoder.training
    check_encoder_shapes(MLPEncoder(3, image_shape=(1, 8, 8)), 3, image_shape=(1, 8, 8))
    assert capsys.readouterr().out.count("Correct: ") == 2


@pytest.mark.parametrize(
    "module, message",
    [
        (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1)), "Flatten the feature maps"),
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 5)), "output latent_dim = 4 features"),
        (nn.Sequential(nn.Flatten(0), nn.Linear(5 * 784, 4)), "batch dimension was lost"),
        (nn.Sequential(nn.Linear(28, 4)), r"returned shape \(5, 1, 28, 4\)"),
        (nn.Flatten(), "has no parameters"),
        (nn.Sequential(nn.Linear(10, 4)), "raised RuntimeError"),
    ],
)
def test_encoder_shape_checker_names_the_mistake(module, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_encoder_shapes(module, 4)


def test_encoder_shape_checker_flags_an_encoder_that_ignores_its_input():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.code = nn.Parameter(torch.zeros(4))

        def forward(self, x):
            return self.code.expand(len(x), 4)

    with pytest.raises(ExerciseCheckError, match="same codes for different images"):
        check_encoder_shapes(Constant(), 4)
