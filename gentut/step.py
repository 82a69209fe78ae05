"""One training step's updates: each network learns from its own loss, and only from it.

A model's ``training_step(batch, step)`` computes its losses and hands them to ``step.update``.
Two forms, one routing rule:

* ``step.update(loss, "discriminator")``: one optimizer, one loss (a GAN's players, in turn);
* ``step.update({"encoder": e_loss, "decoder": d_loss, "discriminator": c_loss})``: several
  losses computed from ONE shared forward pass, as VAE-GAN needs (Larsen et al. 2016).

In both, the gradient of each loss is taken with respect to the parameters of its own optimizer
only, ``torch.autograd.grad(loss, those_parameters)``, and stored in their ``.grad``; nothing is
accumulated into any other network's ``.grad``. In the several-loss form every gradient is
computed before any optimizer steps, in the order given, so no step changes a weight that a
later loss still has to differentiate through. That is the difference from the usual loop of
``zero_grad(); loss.backward(); step()`` per optimizer, which fails twice on a shared graph: the
second backward finds the graph freed, and with ``retain_graph=True`` it finds weights the first
step modified in place (pythae's VAE-GAN trainer shows a third failure: backward passes that add
into gradients of a network already zeroed).

Wiring mistakes fail loudly instead of training silently: a loss that no parameter of its
optimizer contributed to (swapped generator and discriminator optimizers), one optimizer under
two names, a parameter held by two optimizers, an optimizer holding parameters that are not the
model's (`check_optimizers`).

`Step` is the interface a model sees (models import it for their type hints); `TrainStep` is the
implementation the `gentut.trainer.Trainer` passes, usable on its own in a hand-written loop::

    step = TrainStep({"model": torch.optim.Adam(model.parameters())})
    for batch in loader:
        model.training_step(batch, step)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import ContextManager, Protocol

import torch
from torch import Tensor, nn

from gentut.device import Precision, autocast
from gentut.validation import is_number

__all__ = ["Step", "TrainStep", "WiringError", "named_optimizers", "check_optimizers"]


class WiringError(ValueError):
    """Losses, optimizers and parameters are connected in a way that cannot train as meant."""


class Step(Protocol):
    """What a model's ``training_step(batch, step)`` may use."""

    device: torch.device
    global_step: int  # steps finished before this one

    def autocast(self) -> ContextManager: ...

    def update(self, loss: Tensor | Mapping[str, Tensor], name: str = "model") -> None: ...


class TrainStep:
    """Routes each loss's gradient to its own optimizer's parameters, then steps the optimizers.

    Args:
        optimizers: name -> optimizer (one optimizer is named ``"model"``).
        device: where the model lives (for `autocast`); default CPU.
        precision: mixed precision as `gentut.device.pick_precision` chose it; default fp32.
        grad_clip: max global gradient norm per optimizer, or None.
        scalers: name -> ``torch.amp.GradScaler`` for fp16 (the Trainer makes them); default none.

    ``updates`` lists the optimizer names updated since the last `begin`, in order.
    """

    def __init__(
        self,
        optimizers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer],
        *,
        device: str | torch.device = "cpu",
        precision: Precision | None = None,
        grad_clip: float | None = None,
        scalers: Mapping[str, torch.amp.GradScaler] | None = None,
    ) -> None:
        self.optimizers = named_optimizers(optimizers)
        self.device = torch.device(device)
        self.precision = precision if precision is not None else Precision(dtype=None, use_scaler=False)
        if grad_clip is not None and not (is_number(grad_clip) and grad_clip > 0):
            raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
        self.grad_clip = grad_clip
        self.scalers = dict(scalers or {})
        self._parameters = {
            name: [p for group in optimizer.param_groups for p in group["params"]]
            for name, optimizer in self.optimizers.items()
        }
        self.global_step = 0
        self.updates: list[str] = []

    def begin(self, global_step: int) -> None:
        """Start a step: `global_step` steps are finished; forget the last step's updates."""
        self.global_step = global_step
        self.updates = []

    def autocast(self) -> ContextManager:
        """Mixed precision as set up (a no-op at full precision)."""
        return autocast(self.device, self.precision)

    def update(self, loss: Tensor | Mapping[str, Tensor], name: str = "model") -> None:
        """Update optimizer `name` on `loss`, or each optimizer on its own loss of a dict.

        For a dict, every gradient is computed first (each only with respect to its own
        optimizer's parameters), then the optimizers step in the dict's order.
        """
        if isinstance(loss, Mapping):
            if not loss:
                raise ValueError("update() got an empty dict of losses")
            losses = dict(loss)
        else:
            losses = {name: loss}
        for key, value in losses.items():
            self._check_loss(key, value)
        names = list(losses)
        for i, key in enumerate(names):
            # The graph is shared: keep it until the last loss has been differentiated.
            self._set_gradients(key, losses[key], retain_graph=i < len(names) - 1)
        for key in names:
            self._step(key)
            self.updates.append(key)

    # --- the parts of an update ----------------------------------------------------------------

    def _check_loss(self, name: str, loss: object) -> None:
        if name not in self.optimizers:
            raise KeyError(f"no optimizer named {name!r}; the optimizers are {list(self.optimizers)}")
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            got = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"the loss for {name!r} must be a scalar tensor, got {got}")
        if not loss.requires_grad:
            raise WiringError(
                f"the loss for {name!r} does not require grad: it was computed under "
                f"torch.no_grad() or from detached tensors only, so it cannot train {name!r}"
            )

    def _set_gradients(self, name: str, loss: Tensor, *, retain_graph: bool) -> None:
        parameters = self._parameters[name]
        scaler = self.scalers.get(name)
        # fp16: scale the loss up so small gradients do not underflow to zero
        target = loss.reshape(()) if scaler is None else scaler.scale(loss.reshape(()))
        gradients = torch.autograd.grad(
            target, parameters, retain_graph=retain_graph, allow_unused=True
        )
        if all(g is None for g in gradients):
            raise WiringError(
                f"optimizer {name!r} got no gradient from its loss: none of its "
                f"{len(parameters)} parameters was used to compute it. Is each loss paired with "
                f"the optimizer of the network it trains (generator and discriminator swapped?), "
                f"and is the fake batch detached only for the discriminator?"
            )
        for parameter, gradient in zip(parameters, gradients):
            parameter.grad = gradient  # None for a parameter this loss did not use

    def _step(self, name: str) -> None:
        optimizer, scaler = self.optimizers[name], self.scalers.get(name)
        if self.grad_clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            nn.utils.clip_grad_norm_(self._parameters[name], self.grad_clip)
        if scaler is None:
            optimizer.step()
        else:
            scaler.step(optimizer)  # skipped if the unscaled gradients hold inf/NaN
            scaler.update()


def named_optimizers(
    optimizers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer],
) -> dict[str, torch.optim.Optimizer]:
    """One optimizer becomes ``{"model": optimizer}``; a dict is checked and copied."""
    if isinstance(optimizers, torch.optim.Optimizer):
        return {"model": optimizers}
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError(
            f"optimizers must be a torch.optim.Optimizer or a non-empty dict name -> Optimizer, "
            f"got {type(optimizers).__name__}"
        )
    seen: dict[int, str] = {}
    for name, optimizer in optimizers.items():
        if not isinstance(name, str) or not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizers must map str names to Optimizers, got {name!r}: {type(optimizer).__name__}"
            )
        if id(optimizer) in seen:
            raise WiringError(
                f"one optimizer is given under two names, {seen[id(optimizer)]!r} and {name!r}: it "
                f"would step twice per step; give each network an optimizer of its own"
            )
        seen[id(optimizer)] = name
    return dict(optimizers)


def check_optimizers(model: nn.Module, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
    """Raise `WiringError` unless every optimizer holds only `model`'s parameters, none shared."""
    own = {id(p) for p in model.parameters()}
    holder: dict[int, str] = {}
    for name, optimizer in optimizers.items():
        for group in optimizer.param_groups:
            for p in group["params"]:
                if id(p) not in own:
                    raise WiringError(
                        f"optimizer {name!r} holds a parameter of shape {tuple(p.shape)} that is not "
                        f"one of the model's; build it from model.parameters() (or a sub-module's) "
                        f"of this model"
                    )
                if id(p) in holder and holder[id(p)] != name:
                    raise WiringError(
                        f"a parameter of shape {tuple(p.shape)} is held by two optimizers, "
                        f"{holder[id(p)]!r} and {name!r}; each parameter must belong to one network's "
                        f"optimizer so that it learns from one loss"
                    )
                holder[id(p)] = name
