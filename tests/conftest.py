"""Helpers shared by the tests: a stand-in for the trainer's step, a recorder of the gradients
optimizers step on, and one torch thread."""
from __future__ import annotations

import contextlib

import pytest
import torch


class ManualStep:
    """The smallest stand-in for gentut.trainer.TrainStep: one optimizer, CPU, full precision."""

    def __init__(self, optimizer=None):
        self.device = torch.device("cpu")
        self.optimizer = optimizer
        self.global_step = 0
        self.losses = []

    def autocast(self):
        return contextlib.nullcontext()

    def update(self, loss, name="model"):
        assert name == "model"
        self.losses.append(loss)
        if self.optimizer is not None:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.global_step += 1


def record_gradients(optimizers):
    """Wrap each optimizer's step to record (name, {parameter id: grad}) as it steps."""
    records = []
    for name, optimizer in optimizers.items():
        original = optimizer.step

        def step(*args, _name=name, _optimizer=optimizer, _original=original, **kwargs):
            grads = {id(p): None if p.grad is None else p.grad.clone()
                     for group in _optimizer.param_groups for p in group["params"]}
            records.append((_name, grads))
            return _original(*args, **kwargs)

        optimizer.step = step
    return records


@pytest.fixture
def one_thread():
    """Tiny models train faster on one thread: thread start-up costs more than the arithmetic,
    and on a busy 2-core machine two threads wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyModel(torch.nn.Module):
    """The smallest model the Trainer takes: one linear layer, loss = mean squared output."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def training_step(self, batch, step):
        loss = self.linear(batch.x).pow(2).mean()
        step.update(loss)
        return {"loss": loss.detach()}
