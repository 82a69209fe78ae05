"""DCGAN: the paper's guidelines as options of the book's networks, at 28, 32 and 64 pixels."""
import pytest
import torch
from torch import nn

from gentut.data import ImageData
from gentut.models.dcgan import (DCGAN_BETAS, DCGAN_LR, build_dcgan, dcgan_discriminator, dcgan_generator,
                                 dcgan_optimizers, default_depth)
from gentut.spec import build_model, model_spec
from gentut.trainer import Trainer


@pytest.mark.parametrize("size, depth", [(28, 2), (32, 3), (64, 4), (8, 1)])
def test_default_depth_halves_down_to_a_small_map(size, depth):
    assert default_depth(size) == depth


def test_a_size_that_cannot_be_halved_is_a_clear_error():
    with pytest.raises(ValueError, match="image_size 7 cannot be halved"):
        default_depth(7)


@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 3)])
def test_the_players_map_noise_to_images_and_images_to_one_logit(size, channels):
    gan = build_dcgan(16, image_size=size, channels=channels, width=8)
    images = gan.sample(4)
    assert images.shape == (4, channels, size, size) and 0 <= images.min() and images.max() <= 1
    assert gan.discriminate(images).shape == (4,)


def test_the_64_pixel_generator_is_the_papers_shape_at_width_128():
    generator = dcgan_generator(100, image_size=64, channels=3, width=128)
    maps = [m.out_channels for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert generator.net[0].out_features == 1024 * 4 * 4  # z projected to 4x4x1024
    assert maps == [512, 256, 128, 3]  # 8x8x512, 16x16x256, 32x32x128, 64x64x3


def test_batch_norm_everywhere_but_the_generator_output_and_the_discriminator_input():
    generator, discriminator = dcgan_generator(16, width=8), dcgan_discriminator(width=8)
    g_layers, d_layers = list(generator.net), list(discriminator.net)
    last_conv = max(i for i, m in enumerate(g_layers) if isinstance(m, nn.ConvTranspose2d))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in g_layers[last_conv:])  # output
    assert isinstance(g_layers[1], nn.BatchNorm1d)  # after the projection
    first_conv = next(i for i, m in enumerate(d_layers) if isinstance(m, nn.Conv2d))
    assert not isinstance(d_layers[first_conv + 1], nn.modules.batchnorm._BatchNorm)  # input stage
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d_layers) == len(discriminator.channels) - 1
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in d_layers)
    assert any(isinstance(m, nn.ReLU) for m in g_layers) and not any(isinstance(m, nn.LeakyReLU) for m in g_layers)


def test_weights_start_from_n_0_0_02_and_the_ablation_keeps_pytorchs_default():
    torch.manual_seed(0)
    dcgan = dcgan_generator(100, width=64)
    weights = torch.cat([m.weight.flatten() for m in dcgan.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d))])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001
    default = dcgan_generator(100, width=64, init="default")
    first = default.net[0].weight  # PyTorch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert first.abs().max() <= 100 ** -0.5 + 1e-6 and first.std() > 0.05


def test_one_keyword_per_ablation_and_unknown_ones_are_refused():
    no_norm = build_dcgan(8, width=8, norm="none")
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in no_norm.modules())
    relu_d = build_dcgan(8, width=8, activation="relu")
    assert not any(isinstance(m, nn.LeakyReLU) for m in relu_d.discriminator.modules())
    packed = build_dcgan(8, width=8, packing=2)
    assert packed.discriminator.image_shape == (2, 28, 28) and packed.config.packing == 2
    with pytest.raises(TypeError, match=r"unknown options \['pooling'\]"):
        build_dcgan(8, pooling=True)


def test_adam_at_the_papers_settings_and_a_training_step_through_the_trainer():
    torch.manual_seed(0)
    gan = build_dcgan(8, width=8)
    optimizers = dcgan_optimizers(gan)
    assert {g["lr"] for o in optimizers.values() for g in o.param_groups} == {DCGAN_LR}
    assert {g["betas"] for o in optimizers.values() for g in o.param_groups} == {DCGAN_BETAS}
    before = {name: [p.clone() for p in net.parameters()] for name, net in
              (("generator", gan.generator), ("discriminator", gan.discriminator))}
    loader = ImageData(torch.rand(32, 1, 28, 28)).loader(16, seed=0)
    Trainer(gan, optimizers, device="cpu", progress=False).fit(loader, epochs=1)
    for name, net in (("generator", gan.generator), ("discriminator", gan.discriminator)):
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())), name
    with pytest.raises(TypeError, match="gan must be a gentut GAN"):
        dcgan_optimizers(nn.Linear(2, 2))


def test_a_dcgan_is_rebuilt_from_its_spec_with_the_same_architecture():
    gan = build_dcgan(8, image_size=32, channels=3, width=8, spectral_norm=True)
    rebuilt = build_model(model_spec(gan))
    rebuilt.load_state_dict(gan.state_dict())
    z = torch.randn(3, 8)
    gan.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(gan.generate(z), rebuilt.generate(z))


@pytest.mark.parametrize("size, channels", [(32, 3), (64, 3)])
def test_bigger_images_build_and_take_a_training_step(size, channels):
    torch.manual_seed(0)
    gan = build_dcgan(16, image_size=size, channels=channels, width=4)
    loader = ImageData(torch.rand(8, channels, size, size)).loader(4, seed=0)
    trainer = Trainer(gan, dcgan_optimizers(gan), device="cpu", progress=False, log_every=1)
    trainer.fit(loader, epochs=1)
    logs = {name: trainer.history.series(name)[1] for name in ("d_loss", "g_loss")}
    assert all(len(v) == 2 and all(torch.isfinite(torch.tensor(v))) for v in logs.values())
    assert gan.sample(2).shape == (2, channels, size, size)


def test_the_remaining_guidelines_are_one_keyword_each_and_change_only_their_layer():
    reference = build_dcgan(8, width=8)
    pooled = build_dcgan(8, width=8, downsample="pool")
    d_ref, d_pool = list(reference.discriminator.net), list(pooled.discriminator.net)
    assert sum(isinstance(m, nn.AvgPool2d) for m in d_pool) == len(pooled.discriminator.channels)
    assert all(m.stride == (1, 1) for m in d_pool if isinstance(m, nn.Conv2d))
    assert all(m.stride == (2, 2) for m in d_ref if isinstance(m, nn.Conv2d))
    assert len(pooled.generator.net) == len(reference.generator.net)  # the generator untouched
    resized = build_dcgan(8, width=8, upsample="resize")
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in resized.generator.modules())
    assert sum(isinstance(m, nn.Upsample) for m in resized.generator.modules()) == 2
    edges = build_dcgan(8, width=8, norm_image_side=True)
    g_layers, d_layers = list(edges.generator.net), list(edges.discriminator.net)
    assert isinstance(g_layers[-1], nn.BatchNorm2d) and g_layers[-1].num_features == 1  # the output's logits
    assert isinstance(d_layers[1], nn.BatchNorm2d)  # right after the input convolution
    for gan in (pooled, resized, edges):
        images = gan.sample(3)
        assert images.shape == (3, 1, 28, 28) and gan.discriminate(images).shape == (3,)
        rebuilt = build_model(model_spec(gan))
        assert [type(m) for m in rebuilt.modules()] == [type(m) for m in gan.modules()]


def test_the_new_keywords_leave_an_old_spec_unchanged_and_refuse_nonsense():
    assert "upsample" not in dcgan_generator(8, width=8).options  # defaults are not recorded
    assert "downsample" not in dcgan_discriminator(width=8).options
    assert dcgan_discriminator(width=8, downsample="pool").options["downsample"] == "pool"
    with pytest.raises(ValueError, match="needs norm='batch'"):
        build_dcgan(8, width=8, norm="none", norm_image_side=True)
    with pytest.raises(ValueError, match="downsample"):
        dcgan_discriminator(downsample="max")
    with pytest.raises(TypeError, match="norm_image_side must be a bool"):
        dcgan_generator(8, norm_image_side="yes")


def test_a_conditional_dcgan_draws_the_class_it_is_given_and_trains_on_labelled_batches():
    torch.manual_seed(0)
    gan = build_dcgan(8, width=8, num_classes=10)
    assert gan.generator.latent_dim == 8 and gan.discriminator.image_shape == (1, 28, 28)
    assert gan.discriminator.network.image_shape == (11, 28, 28)  # the image and ten label channels
    labels = torch.tensor([0, 3, 9])
    images = gan.sample(3, labels=labels)
    assert images.shape == (3, 1, 28, 28)
    assert gan.discriminate(images, labels).shape == (3,)
    # The label changes what G draws from the same noise, and what D says of the same image.
    z = torch.randn(1, 8).expand(2, -1)
    gan.eval()
    with torch.no_grad():
        two = gan.generate(z, torch.tensor([1, 7]))
        scores = gan.discriminate(two[:1].expand(2, -1, -1, -1), torch.tensor([1, 7]))
    assert not torch.allclose(two[0], two[1]) and scores[0] != scores[1]
    gan.train()
    loader = ImageData(torch.rand(16, 1, 28, 28), torch.arange(16) % 10).loader(8, seed=0)
    trainer = Trainer(gan, dcgan_optimizers(gan), device="cpu", progress=False, log_every=1)
    trainer.fit(loader, epochs=1)
    assert all(torch.isfinite(torch.tensor(trainer.history.series(n)[1])).all() for n in ("d_loss", "g_loss"))
    rebuilt = build_model(model_spec(gan))
    rebuilt.load_state_dict(gan.state_dict())
    gan.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(gan.generate(z, torch.tensor([1, 7])), rebuilt.generate(z, torch.tensor([1, 7])))
    assert rebuilt.config.num_classes == 10


def test_a_conditional_gan_refuses_missing_labels_and_an_unconditional_one_refuses_labels():
    conditional, plain = build_dcgan(8, width=8, num_classes=3), build_dcgan(8, width=8)
    with pytest.raises(ValueError, match="conditional .num_classes=3. and needs labels"):
        conditional.sample(2)
    with pytest.raises(ValueError, match="unconditional .num_classes=0., but labels were given"):
        plain.sample(2, labels=torch.tensor([0, 1]))
    unlabelled = ImageData(torch.rand(8, 1, 28, 28)).loader(4, seed=0)
    with pytest.raises(ValueError, match="batch has no labels"):
        Trainer(conditional, dcgan_optimizers(conditional), device="cpu", progress=False).fit(unlabelled, epochs=1)
    with pytest.raises(ValueError, match="cannot pack"):
        build_dcgan(8, width=8, num_classes=3, packing=2)
    with pytest.raises(ValueError, match="num_classes must be a non-negative int"):
        build_dcgan(8, width=8, num_classes=-1)


def test_the_config_and_both_networks_must_agree_on_the_classes():
    from gentut.models.gan import GAN, GANConfig
    from gentut.models.networks import LabelConditioned
    generator = LabelConditioned(dcgan_generator(8 + 3, width=8), 3)
    discriminator = dcgan_discriminator(width=8)
    with pytest.raises(ValueError, match="the discriminator is not label-conditioned"):
        GAN(generator, discriminator, config=GANConfig(latent_dim=8, num_classes=3))
    with pytest.raises(ValueError, match="config.num_classes is 0 but the generator is conditioned on 3"):
        GAN(generator, discriminator, config=GANConfig(latent_dim=8))
