"""Exercise checkers of the VAE-GAN chapter: the reference passes, each typical mistake fails with its own message."""
import pytest
import torch
import torch.nn.functional as F

from gentut.exercises import ExerciseCheckError, check_balance, check_vaegan_losses

pytestmark = pytest.mark.usefixtures("one_thread")


def routed(kl, feature_error, real_logits, fake_logits, gamma):
    return {"encoder": kl + feature_error,
            "decoder": gamma * feature_error + F.softplus(-fake_logits).mean(),
            "discriminator": F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()}


def changed(**replace):
    def fn(kl, feature_error, real_logits, fake_logits, gamma):
        losses = routed(kl, feature_error, real_logits, fake_logits, gamma)
        terms = dict(kl=kl, fe=feature_error, real=real_logits, fake=fake_logits, gamma=gamma, losses=losses)
        losses.update({name: make(**terms) for name, make in replace.items()})
        return losses
    return fn


def test_the_losses_checker_accepts_the_routing(capsys):
    check_vaegan_losses(routed)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (changed(encoder=lambda losses, fake, **_: losses["encoder"] + F.softplus(-fake).mean()),
     "adversarial loss reached the encoder"),
    (changed(encoder=lambda fe, **_: fe), "lost its KL term"),
    (changed(decoder=lambda fe, fake, gamma, **_: gamma * fe - F.softplus(-fake).mean()), "wrong sign"),
    (changed(decoder=lambda fe, real, fake, gamma, **_: gamma * fe + F.softplus(-real).mean()
             + F.softplus(fake).mean()), "Algorithm 1 of the paper read with the paper's sign"),
    (changed(decoder=lambda fe, fake, **_: fe + F.softplus(-fake).mean()), "weighted by gamma"),
    (changed(decoder=lambda fe, fake, gamma, **_: gamma * fe - F.softplus(fake).mean()), "minimax term"),
    (changed(discriminator=lambda losses, fe, **_: losses["discriminator"] + fe), "must not learn from the feature"),
    (changed(discriminator=lambda real, fake, **_: F.softplus(-real).mean() + F.softplus(fake[:8]).mean()
             + F.softplus(fake[8:]).mean()), "count half each"),
    (changed(discriminator=lambda real, fake, **_: F.softplus(-real).mean() + F.softplus(fake[8:]).mean()),
     "reconstructions are fakes too"),
    (changed(decoder=lambda losses, **_: losses["decoder"].detach()), "carries no gradient"),
    (changed(encoder=lambda kl, fe, **_: kl + fe.detach() + (fe - fe.detach())), None),  # same gradient: fine
    (lambda *terms: {"encoder": terms[0]}, "a dict with keys"),
    (lambda *terms: 1 / 0, "raised ZeroDivisionError"),
])
def test_the_losses_checker_names_the_mistake(wrong, message, capsys):
    if message is None:
        check_vaegan_losses(wrong)
        assert capsys.readouterr().out.startswith("Correct:")
        return
    with pytest.raises(ExerciseCheckError, match=message):
        check_vaegan_losses(wrong)


def test_a_loss_with_the_right_value_but_a_constant_in_place_of_a_term_fails():
    def frozen(kl, feature_error, real_logits, fake_logits, gamma):
        losses = routed(kl, feature_error, real_logits, fake_logits, gamma)
        losses["encoder"] = kl + feature_error.detach()   # the right number, but the encoder no longer learns to reconstruct
        return losses

    with pytest.raises(ExerciseCheckError, match="right value but the wrong gradient for the encoder"):
        check_vaegan_losses(frozen)


def rule(real, fake, equilibrium, margin):
    update_discriminator = not (real < equilibrium - margin or fake < equilibrium - margin)
    update_decoder = not (real > equilibrium + margin or fake > equilibrium + margin)
    if not (update_decoder or update_discriminator):
        return True, True
    return update_decoder, update_discriminator


def test_the_balance_checker_accepts_the_rule(capsys):
    check_balance(rule)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda r, f, e, m: (not (r > e + m or f > e + m), not (r < e - m or f < e - m)), "both must update"),
    (lambda r, f, e, m: rule(r, f, e, m)[::-1], "swapped"),
    (lambda r, f, e, m: (True, True), "expected"),
    (lambda r, f, e, m: True, "should return a pair"),
])
def test_the_balance_checker_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseCheckError, match=message):
        check_balance(wrong)
