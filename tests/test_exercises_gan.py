"""Exercise checkers of the GAN chapter: the reference passes, each typical mistake fails with its own message."""
import pytest
import torch
import torch.nn.functional as F

from gentut.exercises import (
    ExerciseCheckError,
    check_discriminator_loss,
    check_generator_loss,
)

# --- GAN losses ----------------------------------------------------------------------------------


def _reference_discriminator_loss(real_logits, fake_logits):
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def test_discriminator_loss_checker_accepts_the_reference(capsys):

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

    with pytest.raises(ExerciseCheckError, match=message):
        check_discriminator_loss(wrong)


def test_generator_loss_checker_accepts_the_reference(capsys):

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

    with pytest.raises(ExerciseCheckError, match=message):
        check_generator_loss(wrong)
