"""Model specs: read off a model, build it again, store it in checkpoints, rebuild a trained
model from a checkpoint alone (in a fresh process), and reject what cannot be built."""
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import TinyModel

from gentut.checkpoint import load_checkpoint
from gentut.lab2d import LabVariant, variant_spec
from gentut.models import (
    GAN,
    MLP,
    VAE,
    Autoencoder,
    AutoencoderConfig,
    ConvDecoder,
    ConvEncoder,
    GANConfig,
    LabelConditioned,
    MLPDecoder,
    MLPEncoder,
    VAEConfig,
)
from gentut.spec import (
    SpecError,
    build_model,
    build_network,
    build_optimizers,
    load_model,
    model_spec,
    network_spec,
)
from gentut.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


def _models():
    return {
        "autoencoder": Autoencoder(ConvEncoder(8, base_channels=4), ConvDecoder(8, base_channels=4),
                                   config=AutoencoderConfig(corruption="gaussian", noise_level=0.3)),
        "vae": VAE(MLPEncoder(4, hidden=(16,)), MLPDecoder(2, hidden=(16,)), config=VAEConfig(2, beta=4.0)),
        "conditional vae": VAE(LabelConditioned(MLPEncoder(4, image_shape=(4, 8, 8), hidden=(16,)), 3),
                               LabelConditioned(MLPDecoder(5, image_shape=(1, 8, 8), hidden=(16,)), 3),
                               config=VAEConfig(2, num_classes=3)),
        "dcgan-like": GAN(ConvDecoder(8, base_channels=4, depth=3, image_size=32, norm="batch", init="dcgan"),
                          ConvEncoder(1, base_channels=4, depth=3, image_size=32, activation="leaky_relu",
                                      norm="batch", spectral_norm=True),
                          config=GANConfig(latent_dim=8, loss="hinge")),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_a_model_built_from_its_spec_has_the_same_architecture_and_spec(name):
    model = _models()[name]
    spec = model_spec(model)
    rebuilt = build_model(spec)
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert model_spec(rebuilt) == spec
    rebuilt.load_state_dict(model.state_dict())  # the weights fit


def test_network_specs_are_plain_values_and_round_trip():
    network = ConvEncoder(3, in_channels=2, image_size=28, depth=3, pad=True, channels=(4, 8, 8))
    spec = network_spec(network)
    assert spec["type"] == "ConvEncoder" and spec["options"]["channels"] == (4, 8, 8)
    assert network_spec(build_network(spec)) == spec
    # as a TOML or JSON file would give it: lists instead of tuples
    listed = {"type": "MLPEncoder", "options": {"out_dim": 3, "hidden": [8, 4], "image_shape": [1, 8, 8]}}
    assert build_network(listed).hidden == (8, 4)


def test_optimizer_specs_name_the_sub_module_and_the_constructor_settings():
    model = _models()["dcgan-like"]
    optimizers = {"discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999)),
                  "generator": torch.optim.Adam(model.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))}
    spec = model_spec(model, optimizers)
    assert spec["optimizers"]["generator"]["parameters"] == "generator"
    assert spec["optimizers"]["generator"]["options"]["betas"] == (0.5, 0.999)
    rebuilt = build_model(spec)
    built = build_optimizers(spec, rebuilt)
    assert built["discriminator"].defaults["lr"] == 2e-4
    assert {id(p) for p in built["generator"].param_groups[0]["params"]} == {id(p) for p in rebuilt.generator.parameters()}
    whole = model_spec(model, {"model": torch.optim.SGD(model.parameters(), lr=0.1)})
    assert whole["optimizers"]["model"]["parameters"] == ""


def test_the_lab_variants_are_specs():
    spec = variant_spec(LabVariant("x", packing=2, spectral_norm=True, lr_generator=3e-4))
    gan = build_model(spec)
    assert gan.config.packing == 2 and gan.discriminator.in_dim == 4
    assert torch.nn.utils.parametrize.is_parametrized(gan.discriminator.net[0], "weight")
    assert build_optimizers(spec, gan)["generator"].defaults["lr"] == 3e-4


def test_checkpoints_hold_the_spec_and_a_model_is_rebuilt_from_one_call(tmp_path):
    torch.manual_seed(0)
    model = _models()["vae"]
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), device="cpu", progress=False,
                      checkpoint_path=tmp_path / "vae.pt")
    trainer.fit(torch.rand(32, 1, 28, 28), steps=3, batch_size=8)
    state = load_checkpoint(tmp_path / "vae.pt")
    assert state["spec"]["model"] == "vae" and state["spec"]["optimizers"]["model"]["type"] == "Adam"
    loaded = load_model(tmp_path / "vae.pt")
    assert not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    same = model.sample(4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(loaded.sample(4, generator=torch.Generator().manual_seed(7)), same)


def test_a_fresh_process_rebuilds_a_trained_gan_and_draws_the_same_samples(tmp_path):
    torch.manual_seed(0)
    model = GAN(MLPDecoder(4, hidden=(16,), norm="batch"), MLPEncoder(1, hidden=(16,), activation="leaky_relu"),
                config=GANConfig(latent_dim=4))
    trainer = Trainer(model, {"discriminator": torch.optim.Adam(model.discriminator.parameters(), lr=1e-3),
                              "generator": torch.optim.Adam(model.generator.parameters(), lr=1e-3)},
                      device="cpu", progress=False)
    trainer.fit(torch.rand(64, 1, 28, 28), steps=4, batch_size=16)
    path = trainer.save_checkpoint(tmp_path / "gan.pt")
    expected = model.sample(5, generator=torch.Generator().manual_seed(3))
    torch.save(expected, tmp_path / "expected.pt")
    # Bitwise equality needs the same number of threads (a matmul's sums are ordered by them).
    script = textwrap.dedent(f"""
        import torch
        torch.set_num_threads({torch.get_num_threads()})
        from gentut.spec import load_model
        gan = load_model({str(path)!r})
        samples = gan.sample(5, generator=torch.Generator().manual_seed(3))
        expected = torch.load({str(tmp_path / "expected.pt")!r}, weights_only=True)
        assert torch.equal(samples, expected), (samples - expected).abs().max()
        print("same samples")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same samples"


def test_a_model_of_ones_own_classes_trains_but_its_checkpoint_says_why_it_cannot_be_rebuilt(tmp_path):
    class Mine(TinyModel):  # a class of the reader's own, not one of the book's
        pass

    model = Mine()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), device="cpu", progress=False)
    trainer.fit(torch.randn(8, 2), steps=1, batch_size=4)
    path = trainer.save_checkpoint(tmp_path / "mine.pt")
    with pytest.raises(SpecError, match=r"holds no model spec.*Mine cannot be described by a spec"):
        load_model(path)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"version": 2, "model": "vae"}, "reads spec version 1, got 2"),
        ({"version": 1, "model": "diffusion"}, "'model' must be one of"),
        ({"version": 1, "model": "gan", "networks": {"generator": {}}}, r"needs networks \['generator', 'discriminator'\]"),
        ({"version": 1, "model": "vae", "config": {"latent_dim": 2, "colour": 1},
          "networks": {"encoder": {"type": "MLPEncoder", "options": {"out_dim": 4}},
                       "decoder": {"type": "MLPDecoder", "options": {"latent_dim": 2}}}}, "VAEConfig spec has a bad option"),
        ({"version": 1, "model": "vae", "config": {"latent_dim": 2},
          "networks": {"encoder": {"type": "Transformer"}, "decoder": {"type": "MLPDecoder"}}}, "network type must be one of"),
        ({"version": 1, "model": "vae", "config": {"latent_dim": 2},
          "networks": {"encoder": {"type": "MLPEncoder", "options": {"out_dim": 4, "width": 3}},
                       "decoder": {"type": "MLPDecoder", "options": {"latent_dim": 2}}}}, "MLPEncoder spec has a bad option"),
        ({"version": 1, "model": "vae", "config": {"latent_dim": 2},
          "networks": {"encoder": {"type": "MLPEncoder", "options": {}},
                       "decoder": {"type": "MLPDecoder", "options": {"latent_dim": 2}}}}, "MLPEncoder spec is missing option 'out_dim'"),
    ],
)
def test_bad_specs_get_errors_naming_what_was_expected(spec, message):
    with pytest.raises(SpecError, match=message):
        build_model(spec)


def test_optimizers_a_spec_cannot_describe_are_refused():
    model = _models()["vae"]
    with pytest.raises(SpecError, match="specs know"):
        model_spec(model, {"model": torch.optim.Adagrad(model.parameters())})
    part = list(model.encoder.parameters())[:1]
    with pytest.raises(SpecError, match="not one sub-module's"):
        model_spec(model, {"model": torch.optim.SGD(part, lr=0.1)})
    with pytest.raises(SpecError, match="names no optimizers"):
        build_optimizers(model_spec(model), model)
    with pytest.raises(SpecError, match="cannot be described by a spec"):
        network_spec(torch.nn.Linear(2, 2))
    assert MLP(2, 1).options["in_dim"] == 2


def test_a_file_without_a_model_section_names_the_file_and_what_it_holds(tmp_path):
    from gentut.checkpoint import CheckpointError, save_checkpoint

    path = save_checkpoint(tmp_path / "history-only.pt", {"spec": {"model": {"type": "vae"}}, "history": {}})
    with pytest.raises(CheckpointError, match=rf"{path} lacks the model checkpoint section 'model'; it holds "
                                              r"'format_version', 'history', 'spec'"):
        load_model(path)
