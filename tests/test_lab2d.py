"""The 2-D GAN laboratory: variant checks, how each remedy is built, reproducible runs through
the Trainer, the learning-rate decay, scoring, the mode trace and the comparison table."""
import pytest
import torch

from gentut.data.toy2d import ring_of_gaussians
from gentut.lab2d import (
    LabResult, LabVariant, ModeTrace, book_variants, build_gan, compare, format_comparison, score, train_variant,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("kwargs, message", [
    (dict(loss="hinge_gp"), "loss must be one of"),
    (dict(lr_generator=0.0), "lr_generator must be a positive number, got 0.0"),
    (dict(betas=(0.5, 1.0)), r"betas must be a tuple of two numbers in \[0, 1\)"),
    (dict(decay_to=0.0), r"decay_to must be None or a fraction in \(0, 1\], got 0.0"),
])
def test_variant_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabVariant("bad", **kwargs)


def test_build_gan_switches_on_each_remedy():
    plain = build_gan(LabVariant("plain"), hidden=(8,))
    packed = build_gan(LabVariant("pack", packing=3), hidden=(8,))
    normed = build_gan(LabVariant("sn", spectral_norm=True), hidden=(8,))
    wgan = build_gan(LabVariant("wgan", loss="wasserstein_gp", discriminator_steps=5), hidden=(8,))
    assert plain.discriminator.in_dim == 2 and packed.discriminator.in_dim == 6
    assert packed.discriminate(torch.randn(12, 2)).shape == (4,)
    parametrized = [m for m in normed.discriminator.modules() if torch.nn.utils.parametrize.is_parametrized(m)]
    assert len(parametrized) == 2  # both Linear layers of a one-hidden-layer MLP
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in normed.generator.modules())
    assert wgan.config.loss == "wasserstein_gp" and wgan.config.discriminator_steps == 5


def test_train_variant_is_reproducible_and_decays_the_learning_rate():
    data = ring_of_gaussians(512, seed=0)
    variant = LabVariant("fast", lr_generator=1e-3, lr_discriminator=2e-3, decay_to=0.1)
    runs = [train_variant(variant, data, seed=3, steps=20, batch_size=64, hidden=(16,)) for _ in range(2)]
    (gan_a, trainer_a), (gan_b, _) = runs
    for p, q in zip(gan_a.parameters(), gan_b.parameters()):
        assert torch.equal(p, q)
    rates = {name: opt.param_groups[0]["lr"] for name, opt in trainer_a.optimizers.items()}
    assert rates == pytest.approx({"generator": 1e-4, "discriminator": 2e-4})
    other, _ = train_variant(variant, data, seed=4, steps=20, batch_size=64, hidden=(16,))
    assert not torch.equal(next(other.parameters()), next(gan_a.parameters()))


def test_train_variant_rejects_data_that_is_not_2d_points():
    with pytest.raises(ValueError, match="data must be a ToyData of 2-D points"):
        train_variant(LabVariant("plain"), torch.randn(10, 2), seed=0, steps=1)


class _Constant(torch.nn.Module):
    """A 'generator' that puts every sample at one point: a perfectly collapsed GAN."""

    def __init__(self, point):
        super().__init__()
        self.point = torch.nn.Parameter(torch.tensor(point))
        self.latent_dim = 2

    def forward(self, z):
        return self.point.expand(len(z), 2) + 0 * z


def test_score_and_trace_see_a_collapsed_generator_on_one_mode():
    data = ring_of_gaussians(100, seed=0)
    gan = build_gan(LabVariant("plain"), latent_dim=2, hidden=(8,))
    gan.generator = _Constant([2.0, 0.0])  # mode 0 of the ring, exactly
    assert score(gan, data) == (1, 1.0)
    trace = ModeTrace(data, every=2)

    class _Step:  # the two attributes of a Trainer the hook reads
        global_step = 0
        model = gan

    for step in range(1, 5):
        _Step.global_step = step
        if step == 3:
            gan.generator.point.data = torch.tensor([0.0, 2.0])  # jump to mode 2 (90 degrees)
        trace.on_step_end(_Step)
    assert trace.records == [(2, 0, 1), (4, 2, 1)] and trace.hops == 1


def test_compare_and_format_report_every_variant_and_seed():
    data = ring_of_gaussians(256, seed=0)
    results = compare([LabVariant("a"), LabVariant("b", packing=2)], data, seeds=[0, 1], steps=3, batch_size=32)
    assert [(r.variant, r.seed) for r in results] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert all(0 <= r.modes_covered <= 8 and 0 <= r.high_quality_share <= 1 for r in results)
    assert all(r.samples.shape == (2500, 2) for r in results)
    table = format_comparison(
        [LabResult("x", 0, 8, 0.5, 1.0), LabResult("x", 1, 6, 0.7, 3.0)], modes=8
    ).splitlines()
    assert "modes (of 8)" in table[0]
    assert table[1].split()[:3] == ["x", "8", "6"]
    assert "7.0 ± 1.4" in table[1] and "60 ± 14 %" in table[1] and table[1].endswith("2.0")
    with pytest.raises(ValueError, match="results is empty"):
        format_comparison([], modes=8)


def test_compare_gives_every_variant_the_same_discriminator_updates(monkeypatch):
    import gentut.lab2d as lab

    seen = []
    real_train = lab.train_variant

    def spy(variant, data, *, steps, **kwargs):
        seen.append((variant.name, steps))
        return real_train(variant, data, steps=steps, **kwargs)

    monkeypatch.setattr(lab, "train_variant", spy)
    data = ring_of_gaussians(256, seed=0)
    lab.compare([LabVariant("gan"), LabVariant("wgan", loss="wasserstein_gp", discriminator_steps=5)],
                data, seeds=[0], steps=10, batch_size=32)
    assert seen == [("gan", 10), ("wgan", 2)]


def test_book_variants_are_the_chapters_four_and_valid():
    names = [v.name for v in book_variants()]
    assert names == ["GAN", "GAN + packing (m = 2)", "GAN + spectral norm", "WGAN-GP"]


def test_compare_in_two_processes_gives_the_same_results_as_in_one():
    data = ring_of_gaussians(256, seed=0)
    variants = [LabVariant("a"), LabVariant("b", packing=2)]
    one = compare(variants, data, seeds=[0, 1], steps=4, batch_size=32)
    two = compare(variants, data, seeds=[0, 1], steps=4, batch_size=32, processes=2)
    assert [(r.variant, r.seed, r.modes_covered) for r in one] == [(r.variant, r.seed, r.modes_covered) for r in two]
    for a, b in zip(one, two):
        assert torch.equal(a.samples, b.samples)
    with pytest.raises(ValueError, match="processes must be a positive int, got 0"):
        compare(variants, data, seeds=[0], steps=1, processes=0)
