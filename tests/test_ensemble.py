"""EnsembleMLP and the lab's batched training: members computed as separate networks would be,
gradients that stay in their member, and a one-seed ensemble that trains exactly as one GAN."""
import pytest
import torch

from gentut.data.toy2d import ring_of_gaussians
from gentut.lab2d import book_variants, train_variant
from gentut.lab2d_ensemble import EnsembleLoader, compare_ensemble, train_ensemble
from gentut.data.loader import InMemoryLoader
from gentut.models.ensemble import EnsembleMLP
from gentut.models.networks import MLP


def _mlps(n=3, **options):
    nets = []
    for seed in range(n):
        torch.manual_seed(seed)
        nets.append(MLP(4, 2, hidden=(8, 6), **options))
    return nets


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_each_member_computes_what_its_mlp_computes(spectral_norm):
    nets = _mlps(spectral_norm=spectral_norm)
    ensemble = EnsembleMLP.stack(nets)
    assert (ensemble.members, ensemble.in_dim, ensemble.out_dim) == (3, 4, 2)
    x = torch.randn(3 * 5, 4)
    for mode in ("train", "eval"):  # in training mode spectral norm also runs its power iteration
        for net in nets:
            getattr(net, mode)()
        getattr(ensemble, mode)()
        out = ensemble(x)
        expected = torch.cat([net(x[5 * e: 5 * (e + 1)]) for e, net in enumerate(nets)])
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    # and split back out, each member is its MLP again (weights and power-iteration vectors)
    for net, member in zip(nets, ensemble.unstack(_mlps(1, spectral_norm=spectral_norm)[0])):
        for (name, a), b in zip(net.state_dict().items(), member.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)


def test_a_members_loss_reaches_only_its_own_weights():
    ensemble = EnsembleMLP.stack(_mlps())
    ensemble(torch.randn(3 * 5, 4))[5:10].sum().backward()  # member 1's rows
    for weight in list(ensemble.weights) + list(ensemble.biases):
        assert weight.grad[1].abs().sum() > 0
        assert weight.grad[0].abs().sum() == 0 and weight.grad[2].abs().sum() == 0


def test_bad_inputs_get_clear_errors():
    ensemble = EnsembleMLP.stack(_mlps())
    with pytest.raises(ValueError, match=r"EnsembleMLP of 3 members expects \(E \* B, 4\).*got \(7, 4\)"):
        ensemble(torch.randn(7, 4))
    with pytest.raises(ValueError, match="same options"):
        EnsembleMLP.stack([MLP(4, 2, hidden=(8,)), MLP(4, 2, hidden=(9,))])
    with pytest.raises(TypeError, match="non-empty list of gentut MLPs"):
        EnsembleMLP.stack([torch.nn.Linear(4, 2)])
    with pytest.raises(ValueError, match="distinct"):
        train_ensemble(book_variants()[0], ring_of_gaussians(1_000), seeds=[1, 1], steps=1)


def test_the_ensemble_loader_gives_each_member_its_own_seeds_batches():
    points = torch.arange(40.0).view(20, 2)
    loaders = [InMemoryLoader(points, batch_size=4, seed=seed, drop_last=True) for seed in (0, 5)]
    for batch, first, second in zip(EnsembleLoader(loaders).epoch(1), loaders[0].epoch(1), loaders[1].epoch(1)):
        assert torch.equal(batch.x, torch.cat([first.x, second.x]))
    assert len(EnsembleLoader(loaders)) == 5


@pytest.mark.parametrize("variant", book_variants(), ids=lambda v: v.name)
def test_a_one_seed_ensemble_trains_exactly_as_one_gan(variant):
    """Same start, batches and noise: the same weights after 30 steps, bit for bit, except with
    spectral norm, whose sigma is computed by another kernel (a dot product summed in another
    order) and so agrees to rounding."""
    data = ring_of_gaussians(5_000, seed=0)
    steps = 30 // variant.discriminator_steps
    alone, _ = train_variant(variant, data, seed=3, steps=steps, batch_size=64)
    (member,), trainer = train_ensemble(variant, data, seeds=[3], steps=steps, batch_size=64)
    assert trainer.global_step == steps
    for (name, a), b in zip(alone.state_dict().items(), member.state_dict().values()):
        if variant.spectral_norm:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-4, msg=name)
        else:
            assert torch.equal(a, b), name


def test_compare_ensemble_scores_every_variant_and_seed_in_order_in_one_or_two_processes():
    data = ring_of_gaussians(2_000, seed=0)
    variants = book_variants()[:2]
    one = compare_ensemble(variants, data, seeds=[0, 1, 2], steps=10, batch_size=64)
    assert [(r.variant, r.seed) for r in one] == [(v.name, s) for v in variants for s in (0, 1, 2)]
    assert all(0 <= r.modes_covered <= 8 and 0 <= r.high_quality_share <= 1 and r.samples.shape == (2500, 2)
               for r in one)
    two = compare_ensemble(variants, data, seeds=[0, 1, 2], steps=10, batch_size=64, processes=2)
    assert [(r.variant, r.seed) for r in two] == [(r.variant, r.seed) for r in one]
    # seeds 0 and 2 share a process there and 1 is alone: a one-seed ensemble is its separate run
    alone, _ = train_variant(variants[0], data, seed=1, steps=10, batch_size=64)
    from gentut.lab2d import score
    assert two[1].modes_covered == score(alone, data, seed=10_001).modes_covered
