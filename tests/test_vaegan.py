"""VAE-GAN (Larsen et al. 2016): three losses from one forward pass, each training only its own
network (checked against torch.autograd.grad of that loss alone, over several steps); the losses
against their closed forms; the adversarial signs; the balancing rule; a batch it overfits; and
the bad inputs that must fail clearly."""
import copy

import pytest
import torch
from conftest import record_gradients
from torch import nn

from gentut.data import load_book_images
from gentut.data.loader import Batch, InMemoryLoader
from gentut.losses import gaussian_kl_standard_normal
from gentut.models import ConvEncoder, VAE
from gentut.models.vaegan import NETWORKS, VAEGAN, VAEGANConfig, balance, build_vaegan, vaegan_optimizers
from gentut.step import TrainStep, WiringError
from gentut.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def small(**options):
    torch.manual_seed(0)
    return build_vaegan(4, width=4, **options)


def images(n=8, seed=1):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def sgd(model, lr=0.05):
    return {name: torch.optim.SGD(getattr(model, name).parameters(), lr=lr) for name in NETWORKS}


# --- the leak test -------------------------------------------------------------------------------


def test_each_network_learns_only_from_its_own_loss_over_several_steps():
    # Each optimizer must step on the gradient of ITS loss alone, with respect to ITS parameters,
    # as torch.autograd.grad computes it; no gradient may leak into another network's .grad,
    # and no step may change a weight that a later loss still differentiates through.
    model = small(margin=None)
    optimizers = sgd(model)
    records = record_gradients(optimizers)
    step = TrainStep(optimizers)
    x = images()
    for iteration in range(4):  # several steps: the weights differ from step to step
        torch.manual_seed(100 + iteration)
        losses = model.losses(x, iteration)
        expected = {name: torch.autograd.grad(losses[name], list(getattr(model, name).parameters()),
                                              retain_graph=True, allow_unused=True)
                    for name in NETWORKS}
        before = copy.deepcopy(model.state_dict())
        records.clear()
        torch.manual_seed(100 + iteration)  # the same eps and z_p in the training step
        step.begin(iteration)
        logs = model.training_step(Batch(x), step)
        assert [name for name, _ in records] == list(NETWORKS)
        assert torch.isclose(logs["encoder"], losses["encoder"].detach(), rtol=1e-5)
        for name, got in records:
            for parameter, want in zip(getattr(model, name).parameters(), expected[name]):
                parameter_grad = got[id(parameter)]
                if want is None:  # a parameter the loss does not use gets no gradient
                    assert parameter_grad is None, (iteration, name)
                else:
                    assert parameter_grad is not None and torch.allclose(parameter_grad, want, atol=1e-5), \
                        (iteration, name)
        # every network moved by exactly -lr * its own gradient: no step used a moved weight
        for name in NETWORKS:
            keys = [key for key, value in model.state_dict().items()
                    if key.startswith(name + ".") and value.is_floating_point() and "running" not in key]
            parameters = dict(getattr(model, name).named_parameters())
            for (param_name, _), want in zip(parameters.items(), expected[name]):
                key = f"{name}.{param_name}"
                assert key in keys
                moved = before[key] - (0.0 if want is None else 0.05 * want)
                assert torch.allclose(model.state_dict()[key], moved, atol=1e-5), (iteration, key)


def test_the_encoders_loss_does_not_see_the_discriminators_verdict():
    # The adversarial loss never reaches the encoder: the encoder's loss reads the discriminator
    # only up to block l, so changing the layers after it (the verdict) changes the decoder's and
    # the discriminator's losses and leaves the encoder's alone.
    model = small()
    x, seed = images(), 4
    before = model.losses(x, generator=torch.Generator().manual_seed(seed))
    head = model.discriminator.net[-1]  # the final linear layer, after every hidden block
    with torch.no_grad():
        head.weight.mul_(3.0)
        head.bias.add_(1.0)
    after = model.losses(x, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(after["encoder"], before["encoder"])
    assert not torch.isclose(after["decoder"], before["decoder"])
    assert not torch.isclose(after["discriminator"], before["discriminator"])


def test_the_usual_loop_leaks_the_encoders_backward_into_the_discriminator():
    # What the routing prevents (the bug of several public VAE-GAN trainers): one backward per loss
    # on a shared graph fills .grad of every network the loss passes through.
    model = small()
    losses = model.losses(images(), generator=torch.Generator().manual_seed(0))
    losses["encoder"].backward(retain_graph=True)
    leaked = [p.grad for p in model.discriminator.parameters() if p.grad is not None]
    assert leaked and any(g.abs().sum() > 0 for g in leaked)  # the feature error passed through D's layers


# --- the losses and their signs -----------------------------------------------------------------


def test_the_three_losses_are_their_closed_forms():
    model = small(gamma=0.3, margin=None)
    x = images()
    losses = model.losses(x, generator=torch.Generator().manual_seed(7))
    # recompute every term by hand from the same draws
    draw = torch.Generator().manual_seed(7)
    mean, logvar = model.encode(x)
    eps = torch.randn(mean.shape, generator=draw)
    z = mean + torch.exp(0.5 * logvar) * eps
    z_prior = torch.randn(mean.shape, generator=draw)
    decoded = model.decode(torch.cat([z, z_prior]))
    end = model.discriminator.block_ends[-1]
    hidden = torch.cat([model.discriminator.net[:end](part) for part in (x, decoded[:8], decoded[8:])])
    logits = model.discriminator.net[end:](hidden)[:, 0]  # the linear head: no batch norm after block l
    real, fake = logits[:8], logits[8:]
    features = hidden.flatten(1)
    kl = gaussian_kl_standard_normal(mean, logvar, reduction="none").mean()
    feature_error = 0.5 * ((features[:8] - features[8:16]) ** 2).sum(1).mean()
    gan = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    adversarial = -torch.log(torch.sigmoid(fake)).mean()
    assert torch.allclose(losses["kl"], kl, rtol=1e-4)
    assert torch.allclose(losses["feature_error"], feature_error, rtol=1e-4)
    assert torch.allclose(losses["encoder"], kl + feature_error, rtol=1e-4)
    assert torch.allclose(losses["discriminator"], gan, rtol=1e-4)
    assert torch.allclose(losses["decoder"], 0.3 * feature_error + adversarial, rtol=1e-4)
    assert torch.allclose(losses["real_cost"], -torch.log(torch.sigmoid(real)).mean(), rtol=1e-4)
    assert torch.allclose(losses["fake_cost"], -torch.log(1 - torch.sigmoid(fake)).mean(), rtol=1e-4)


def test_minimax_adversarial_term_is_the_discriminators_fake_loss_negated():
    model = small(adversarial="minimax")
    losses = model.losses(images(), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(losses["adversarial"], -losses["fake_cost"], rtol=1e-5)


def _discriminator_loss(model, x, seed):
    with torch.no_grad():
        return model.losses(x, generator=torch.Generator().manual_seed(seed))["discriminator"].item()


@pytest.mark.parametrize("adversarial", ["non_saturating", "minimax"])
def test_a_decoder_update_fools_the_discriminator_and_a_discriminator_update_catches_up(adversarial):
    # The sign bug of the paper's Algorithm 1, read literally, makes the decoder help the
    # discriminator. Here a decoder step must raise the discriminator's loss L_GAN on the same
    # draws (its fakes look more real), and a discriminator step must lower it.
    model = small(gamma=0.0, adversarial=adversarial, margin=None)
    x = images(16)
    for name, direction in (("decoder", +1), ("discriminator", -1)):
        step = TrainStep({name: torch.optim.SGD(getattr(model, name).parameters(), lr=0.05)})
        before = _discriminator_loss(model, x, seed=5)
        step.update(model.losses(x, generator=torch.Generator().manual_seed(5))[name], name)
        after = _discriminator_loss(model, x, seed=5)
        assert direction * (after - before) > 0, (name, before, after)


# --- balancing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("real, fake, expected", [
    (0.69, 0.69, (True, True)),    # even game: both learn
    (0.20, 0.69, (True, False)),   # D far ahead on real images: D rests
    (0.69, 0.10, (True, False)),   # D far ahead on fakes: D rests
    (1.20, 0.69, (False, True)),   # D far behind: the decoder rests
    (0.69, 1.50, (False, True)),
    (0.10, 1.50, (True, True)),    # both would rest: both learn
])
def test_the_balancing_rule_of_the_authors_code(real, fake, expected):
    assert balance(real, fake, 0.68, 0.35) == expected
    assert balance(real, fake, 0.68, None) == (True, True)


def test_a_skipped_network_keeps_its_weights_and_the_history_counts_the_skips():
    # equilibrium 10 puts every cost below equilibrium - margin: the discriminator always rests
    model = small(equilibrium=10.0, margin=1.0)
    optimizers = sgd(model)
    discriminator_before = copy.deepcopy(model.discriminator.state_dict())
    decoder_before = copy.deepcopy(model.decoder.state_dict())
    trainer = Trainer(model, optimizers, progress=False, log_every=1)
    trainer.fit(InMemoryLoader(images(), batch_size=8, shuffle=False), steps=3)
    for key, value in model.discriminator.state_dict().items():
        if "running" not in key and "num_batches" not in key:
            assert torch.equal(value, discriminator_before[key]), key
    assert any(not torch.equal(v, decoder_before[k]) for k, v in model.decoder.state_dict().items())
    assert trainer.history.series("discriminator_updated")[1] == [0.0, 0.0, 0.0]
    assert trainer.history.series("decoder_updated")[1] == [1.0, 1.0, 1.0]


# --- training -----------------------------------------------------------------------------------


def test_it_overfits_one_batch_through_the_trainer():
    x = load_book_images("synthetic-digits", "train", n=16).images  # digits, not noise: features mean something
    torch.manual_seed(0)
    model = build_vaegan(8, width=8, gamma=1.0)
    model.eval()
    with torch.no_grad():
        start = (model(x) - x).pow(2).mean().item()
    trainer = Trainer(model, vaegan_optimizers(model, lr=2e-3), progress=False, log_every=10)
    trainer.fit(InMemoryLoader(x, batch_size=16, shuffle=False), steps=150)
    model.eval()
    with torch.no_grad():
        end = (model(x) - x).pow(2).mean().item()
    # measured: 0.225 -> 0.043. The feature error is no yardstick here: the discriminator's
    # features start near zero (N(0, 0.02) weights) and grow as it learns, so it rises.
    assert end < 0.3 * start, (start, end)


def test_it_is_a_vae_samples_reconstructs_and_reports_a_pixel_elbo():
    model = small()
    assert isinstance(model, VAE)
    x = images(4)
    assert model.sample(3).shape == (3, 1, 28, 28)
    assert model(x).shape == x.shape
    logs = model.evaluation_step(Batch(x))
    assert set(logs) >= {"elbo", "reconstruction", "kl", "pixel_mse"} and torch.isfinite(logs["elbo"])


def test_one_step_in_bf16_autocast_gives_finite_float32_losses():
    model = small()
    trainer = Trainer(model, vaegan_optimizers(model), mixed_precision=True, device="cpu", progress=False,
                      log_every=1)
    trainer.fit(InMemoryLoader(images(), batch_size=8, shuffle=False), steps=2)
    assert all(torch.isfinite(torch.tensor(v)) for v in trainer.history.series("encoder")[1])


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    ({"gamma": -1.0}, "gamma must be a non-negative number"),
    ({"feature_block": 1.5}, "feature_block must be an int"),
    ({"adversarial": "wasserstein"}, "adversarial must be one of"),
    ({"margin": 0.0}, "margin must be a positive number"),
    ({"equilibrium": -1}, "equilibrium must be a positive number"),
    ({"likelihood": "bernoulli", "decoder_std": None}, "likelihood='gaussian' and a decoder_std"),
    ({"decoder_std": None}, "likelihood='gaussian' and a decoder_std"),
    ({"num_classes": 10}, "num_classes must be 0"),
])
def test_bad_settings_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        VAEGANConfig(latent_dim=4, **options)


def test_bad_networks_and_blocks_are_named():
    model = small()
    with pytest.raises(ValueError, match="feature_block 2 does not exist: the discriminator has 2 hidden blocks"):
        VAEGAN(model.encoder, model.decoder, model.discriminator, config=VAEGANConfig(latent_dim=4, feature_block=2))
    with pytest.raises(ValueError, match="one logit per image"):
        VAEGAN(model.encoder, model.decoder, ConvEncoder(2, base_channels=4), config=VAEGANConfig(latent_dim=4))
    with pytest.raises(TypeError, match="must be a VAEGANConfig"):
        VAEGAN(model.encoder, model.decoder, model.discriminator, config=model.config.__class__.__mro__[1](4))
    with pytest.raises(TypeError, match="one of the book's encoders"):
        VAEGAN(model.encoder, model.decoder, nn.Sequential(nn.Flatten(), nn.Linear(784, 1)),
               config=VAEGANConfig(latent_dim=4))
    with pytest.raises(ValueError, match=r"expects images \(B, C, H, W\), got \(8, 784\)"):
        model.losses(images().flatten(1))
    with pytest.raises(TypeError, match="must be a gentut VAEGAN"):
        vaegan_optimizers(nn.Linear(2, 2))


def test_misnamed_or_swapped_optimizers_fail_instead_of_training():
    model = small()
    optimizers = sgd(model)
    renamed = {"enc": optimizers["encoder"], "decoder": optimizers["decoder"],
               "discriminator": optimizers["discriminator"]}
    with pytest.raises(KeyError, match="no optimizer named 'encoder'"):
        model.training_step(Batch(images()), TrainStep(renamed))
    swapped = {"encoder": optimizers["encoder"], "decoder": optimizers["discriminator"],
               "discriminator": optimizers["decoder"]}
    model = small(margin=None)
    with pytest.raises(WiringError, match="got no gradient"):
        model.training_step(Batch(images()), TrainStep(swapped))


def test_separate_batches_keep_the_verdict_on_real_images_independent_of_the_fakes():
    # With "separate" batches the discriminator normalises real images by their own batch
    # statistics, as a DCGAN's does; "joint" mixes them with the fakes' (measured far worse).
    x = images()
    for batches, independent in (("separate", True), ("joint", False)):
        model = small(discriminator_batches=batches)
        fakes = [torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(s)) for s in (5, 6)]
        with torch.no_grad():
            _, first = model.judge_all(x, fakes[0], fakes[0])
            _, second = model.judge_all(x, fakes[1], fakes[1])
        assert torch.equal(first[:8], second[:8]) is independent, batches


def test_a_trained_vaegan_is_rebuilt_from_its_checkpoint_alone(tmp_path):
    from gentut.spec import load_model, model_spec

    model = small(gamma=0.05, feature_block=0, margin=None)
    optimizers = vaegan_optimizers(model)
    trainer = Trainer(model, optimizers, progress=False, checkpoint_path=tmp_path / "vaegan.pt")
    trainer.fit(InMemoryLoader(images(16), batch_size=8), steps=3)
    spec = model_spec(model, optimizers)
    assert spec["model"] == "vaegan" and set(spec["optimizers"]) == set(NETWORKS)
    assert spec["optimizers"]["discriminator"]["parameters"] == "discriminator"
    loaded = load_model(tmp_path / "vaegan.pt")
    assert type(loaded) is VAEGAN and loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    model.eval()
    same = model.sample(4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(loaded.sample(4, generator=torch.Generator().manual_seed(7)), same)
    # and the trainer resumes it: three more steps from the checkpoint equal six in one go
    resumed = small(gamma=0.05, feature_block=0, margin=None)
    again = Trainer(resumed, vaegan_optimizers(resumed), progress=False)
    again.load_checkpoint(tmp_path / "vaegan.pt")
    again.fit(InMemoryLoader(images(16), batch_size=8), steps=6)
    straight = small(gamma=0.05, feature_block=0, margin=None)
    Trainer(straight, vaegan_optimizers(straight), progress=False).fit(InMemoryLoader(images(16), batch_size=8), steps=6)
    for key, value in straight.state_dict().items():
        assert torch.allclose(resumed.state_dict()[key].float(), value.float(), atol=1e-6), key
