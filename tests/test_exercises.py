"""Exercise checkers: the reference passes, each typical mistake fails with its own message."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gentut.exercises import (
    ExerciseCheckError,
    check_corruption,
    check_elbo,
    check_encoder_shapes,
    check_gaussian_kl,
    check_reconstruction_loss,
    check_reparameterize,
)
from gentut.losses import bernoulli_nll, gaussian_kl_standard_normal
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


# --- variational autoencoders --------------------------------------------------------------------


def _reference_reparameterize(mean, logvar):
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def test_reparameterize_checker_accepts_the_reference_and_leaves_the_rng_alone(capsys):
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    assert check_reparameterize(_reference_reparameterize) is None
    assert torch.equal(torch.rand(3), before)
    assert capsys.readouterr().out.startswith("Correct: ")


_FIXED_EPS = torch.randn(20_000, 4)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda m, lv: m + torch.exp(lv) * torch.randn_like(m), r"std = exp\(logvar\), but exp\(logvar\) is the variance"),
        (lambda m, lv: m + lv * torch.randn_like(m), "used logvar itself as the standard deviation"),
        (lambda m, lv: m + torch.randn_like(m), "noise is not scaled"),
        (lambda m, lv: m, "not random"),
        (lambda m, lv: m + torch.exp(0.5 * lv) * _FIXED_EPS, "two calls gave the same z"),
        (lambda m, lv: torch.normal(m, torch.exp(0.5 * lv)), r"torch.normal\(mean, std\) samples without passing gradients"),
        (lambda m, lv: (m + torch.exp(0.5 * lv) * torch.randn_like(m)).detach(), "no gradient can flow"),
        (lambda m, lv: m[:, :1] + torch.randn(len(m), 1), r"you returned shape \(20000, 1\)"),
        (lambda m, lv: 1 + m + torch.exp(0.5 * lv) * torch.randn_like(m), "should be centred on mean"),
    ],
)
def test_reparameterize_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_reparameterize(wrong)


def _reference_kl(mean, logvar):
    return (0.5 * (mean**2 + logvar.exp() - 1 - logvar)).sum(1).mean()


def test_gaussian_kl_checker_accepts_the_reference(capsys):
    check_gaussian_kl(_reference_kl)
    check_gaussian_kl(gaussian_kl_standard_normal)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).mean(), "averaged over the latent dimensions"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(), "summed over the batch"),
        (lambda m, lv: (m**2 + lv.exp() - 1 - lv).sum(1).mean(), "factor 0.5"),
        (lambda m, lv: -_reference_kl(m, lv), "sign is flipped"),
        (lambda m, lv: (0.5 * (m**2 + lv**2 - 1 - torch.log(lv**2))).sum(1).mean(), "treated logvar as the standard deviation"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() ** 2 - 1 - 2 * lv)).sum(1).mean(), r"treated exp\(logvar\) as the standard deviation"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - lv)).sum(1).mean(), "The -1 inside the sum is missing"),
        (lambda m, lv: (0.5 * (m**2 + lv.exp() - 1 - lv)).sum(1), "one KL per example"),
    ],
)
def test_gaussian_kl_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_gaussian_kl(wrong)


def _reference_elbo(x, logits, mean, logvar):
    log_likelihood = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    return (log_likelihood - gaussian_kl_standard_normal(mean, logvar, reduction="none")).mean()


def test_elbo_checker_accepts_the_reference(capsys):
    check_elbo(_reference_elbo)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda *a: -_reference_elbo(*a), "returned the loss"),
        (lambda x, l, m, lv: -bernoulli_nll(l, x) + gaussian_kl_standard_normal(m, lv), "KL is added"),
        (lambda x, l, m, lv: -bernoulli_nll(l, x), "KL term is missing"),
        (lambda x, l, m, lv: -F.binary_cross_entropy_with_logits(l, x) - gaussian_kl_standard_normal(m, lv),
         "averaged the cross-entropy over pixels"),
        (lambda x, l, m, lv: _reference_elbo(x, l, m, lv).expand(8), "one value per example"),
    ],
)
def test_elbo_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_elbo(wrong)


# --- GAN losses ----------------------------------------------------------------------------------


def _reference_discriminator_loss(real_logits, fake_logits):
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def test_discriminator_loss_checker_accepts_the_reference(capsys):
    from gentut.exercises import check_discriminator_loss

    check_discriminator_loss(_reference_discriminator_loss)
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda r, f: -(r.log().mean() + (1 - f).log().mean()), "logits as probabilities"),
        (lambda r, f: _reference_discriminator_loss(f, r), "swapped"),
        (lambda r, f: F.softplus(-r).sum() + F.softplus(f).sum(), "summed over the batch"),
        (lambda r, f: -_reference_discriminator_loss(r, f), "sign is flipped"),
        (lambda r, f: F.binary_cross_entropy_with_logits(
            torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])),
         "real and fake examples together"),
        (lambda r, f: F.softplus(-r) + F.softplus(f), "one value per example"),
        (lambda r, f: -(torch.sigmoid(r).log().mean() + (1 - torch.sigmoid(f)).log().mean()),
         "not finite for logits of size 20-40"),
    ],
)
def test_discriminator_loss_checker_names_the_mistake(wrong, message):
    from gentut.exercises import check_discriminator_loss

    with pytest.raises(ExerciseCheckError, match=message):
        check_discriminator_loss(wrong)


def test_generator_loss_checker_accepts_the_reference(capsys):
    from gentut.exercises import check_generator_loss

    check_generator_loss(lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)))
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda f: torch.log(1 - torch.sigmoid(f)).mean(), "saturating minimax form"),
        (lambda f: F.softplus(f).mean(), "look MORE fake"),
        (lambda f: -F.softplus(-f).mean(), "sign is flipped"),
        (lambda f: -f.log().mean(), "logits as probabilities"),
        (lambda f: F.softplus(-f).sum(), "summed over the batch"),
        (lambda f: F.softplus(-f.detach()).mean(), "no gradient can flow"),
        (lambda f: -torch.sigmoid(f).log().mean(), "not finite for large logits"),
    ],
)
def test_generator_loss_checker_names_the_mistake(wrong, message):
    from gentut.exercises import check_generator_loss

    with pytest.raises(ExerciseCheckError, match=message):
        check_generator_loss(wrong)
