"""Several MLPs of the same shape run as one: an ensemble trained in one pass.

The 2-D laboratory trains tiny networks (two hidden layers of 128) on batches of 512 points, so a
training step costs far more in per-call overhead (Python, the autograd graph, optimizer loops)
than in arithmetic. `EnsembleMLP` stacks the weights of E such networks into one tensor per layer,
(E, out, in), and runs all E with one batched matrix product per layer (`torch.baddbmm`): one
step of E members costs about what one step of one member did.

The members never mix. The ensemble takes rows grouped by member, (E * B, in_dim): rows
``[e * B, (e + 1) * B)`` belong to member e, and it returns (E * B, out_dim) in the same order.
So a `gentut.models.GAN` built from two ensembles trains E GANs through its unchanged
``training_step``: noise is drawn for all E * B rows at once, a packed discriminator's packs of
consecutive rows stay inside a member (B divisible by the packing), and the gradient penalty is
taken per row. Only the losses' mean runs over all E * B rows, so each member's gradient is 1/E of
its own; Adam divides that factor out (its update is m / (sqrt(v) + eps)), up to eps (1e-8).

`EnsembleMLP.stack` builds one from E `gentut.models.networks.MLP` (their exact weights and, with
spectral normalisation, their power-iteration vectors); `unstack` gives the E trained MLPs back,
to be scored one by one as separate runs are.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentut.models.networks import MLP

__all__ = ["EnsembleMLP"]

_ACTIVATIONS = {nn.ReLU: F.relu, nn.LeakyReLU: lambda x: F.leaky_relu(x, 0.2)}
_EPS = 1e-12  # torch's spectral_norm default


def _linear_layers(mlp: MLP) -> list[nn.Linear]:
    return [layer for layer in mlp.net if isinstance(layer, nn.Linear)]


class EnsembleMLP(nn.Module):
    """E MLPs with the same options, as one module: (E * B, in_dim) -> (E * B, out_dim).

    Build it with `EnsembleMLP.stack(mlps)`. Attributes ``members``, ``in_dim``, ``out_dim``.
    With spectral normalisation each member's layers are divided by their own largest singular
    value, estimated as torch's ``spectral_norm`` does it: one power iteration per forward pass in
    training mode, from each member's own vectors u and v.
    """

    def __init__(self, weights: Sequence[Tensor], biases: Sequence[Tensor], activation: type[nn.Module],
                 *, output: str = "identity", spectral: Sequence[tuple[Tensor, Tensor]] | None = None) -> None:
        super().__init__()
        if not weights or len(weights) != len(biases):
            raise ValueError(f"need one bias per weight and at least one layer, got {len(weights)} and {len(biases)}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {[a.__name__ for a in _ACTIVATIONS]}, got {activation!r}")
        if output != "identity":
            raise ValueError(f"only output='identity' (raw outputs) is supported, got {output!r}")
        self.weights = nn.ParameterList([nn.Parameter(w.detach().clone()) for w in weights])  # (E, out, in) each
        self.biases = nn.ParameterList([nn.Parameter(b.detach().clone()) for b in biases])  # (E, out) each
        self.members = weights[0].shape[0]
        self.in_dim, self.out_dim = weights[0].shape[2], weights[-1].shape[1]
        self.activation = _ACTIVATIONS[activation]
        self.spectral_norm = spectral is not None
        if spectral is not None:
            for i, (u, v) in enumerate(spectral):
                self.register_buffer(f"u{i}", u.detach().clone())  # (E, out)
                self.register_buffer(f"v{i}", v.detach().clone())  # (E, in)

    @classmethod
    def stack(cls, mlps: Sequence[MLP]) -> "EnsembleMLP":
        """One ensemble of `mlps` (book MLPs with identical options), starting from their weights."""
        if not mlps or not all(isinstance(m, MLP) for m in mlps):
            raise TypeError(f"mlps must be a non-empty list of gentut MLPs, got {[type(m).__name__ for m in mlps]}")
        options = mlps[0].options
        if any(m.options != options for m in mlps):
            raise ValueError("every MLP of an ensemble must have the same options (sizes, activation, spectral norm)")
        layers = [_linear_layers(m) for m in mlps]  # [member][layer]
        activation = type(next(layer for layer in mlps[0].net if not isinstance(layer, nn.Linear)))
        spectral = options["spectral_norm"]

        def weight(layer: nn.Linear) -> Tensor:
            return layer.parametrizations.weight.original if spectral else layer.weight

        depth = len(layers[0])
        weights = [torch.stack([weight(member[i]).detach() for member in layers]) for i in range(depth)]
        biases = [torch.stack([member[i].bias.detach() for member in layers]) for i in range(depth)]
        vectors = None
        if spectral:
            norms = [[member[i].parametrizations.weight[0] for member in layers] for i in range(depth)]
            vectors = [(torch.stack([n._u for n in layer]), torch.stack([n._v for n in layer])) for layer in norms]
        return cls(weights, biases, activation, output=options["output"], spectral=vectors)

    def _weight(self, i: int) -> Tensor:
        w = self.weights[i]  # (E, out, in)
        if not self.spectral_norm:
            return w
        u, v = getattr(self, f"u{i}"), getattr(self, f"v{i}")
        if self.training:
            with torch.no_grad():  # torch's power iteration, per member: u = Wv / |Wv|, v = W^T u / |W^T u|
                u.copy_(F.normalize(torch.bmm(w, v.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS))
                v.copy_(F.normalize(torch.bmm(w.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS))
        u, v = u.clone(), v.clone()
        sigma = (u * torch.bmm(w, v.unsqueeze(2)).squeeze(2)).sum(dim=1)  # (E,) u^T W v
        return w / sigma.view(-1, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim or x.shape[0] % self.members:
            raise ValueError(f"EnsembleMLP of {self.members} members expects (E * B, {self.in_dim}) with rows "
                             f"grouped by member, got {tuple(x.shape)}")
        h = x.reshape(self.members, -1, self.in_dim)  # (E, B, in)
        last = len(self.weights) - 1
        for i in range(last + 1):
            # (E, B, in) @ (E, in, out) + (E, 1, out)
            h = torch.baddbmm(self.biases[i].unsqueeze(1), h, self._weight(i).transpose(1, 2))
            if i < last:
                h = self.activation(h)
        return h.reshape(-1, self.out_dim)  # (E * B, out)

    def unstack(self, template: MLP) -> list[MLP]:
        """The E members as separate MLPs: copies of `template` (an MLP with the members' options)
        holding each member's current weights (and spectral-norm vectors)."""
        import copy

        members = []
        for e in range(self.members):
            mlp = copy.deepcopy(template)
            for i, layer in enumerate(_linear_layers(mlp)):
                with torch.no_grad():
                    if self.spectral_norm:
                        layer.parametrizations.weight.original.copy_(self.weights[i][e])
                        norm = layer.parametrizations.weight[0]
                        norm._u.copy_(getattr(self, f"u{i}")[e])
                        norm._v.copy_(getattr(self, f"v{i}")[e])
                    else:
                        layer.weight.copy_(self.weights[i][e])
                    layer.bias.copy_(self.biases[i][e])
            members.append(mlp)
        return members
