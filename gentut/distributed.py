"""Data-parallel training with PyTorch's own distributed engine (``torch.distributed``).

Started by ``torchrun --nproc_per_node=N`` (or its multi-node options), each of the N processes
holds a whole copy of the model and trains on its own share of every batch; before every
optimizer step the gradients of that optimizer's parameters are averaged over the processes, so
every copy takes the same step, the one a single process would take on the whole batch.

Why not ``DistributedDataParallel``: its reducer expects one backward pass over all of a model's
parameters per forward pass. The book's GANs take two (the discriminator's, then the
generator's, with the discriminator stepped several times for WGAN-GP) and VAE-GAN routes three
losses of one forward pass to three networks with ``torch.autograd.grad``. Averaging per
optimizer, in a step pre-hook (`torch.optim.Optimizer.register_step_pre_hook`), is correct for
all of them; the price is that communication does not overlap the backward pass.

* `setup` reads torchrun's environment, starts the process group (gloo on CPUs, NCCL on CUDA) and
  picks the device and the number of threads of each process;
* `average_gradients` installs the pre-hooks; `ShardedLoader` gives each process its share of
  each batch (the same batches, in the same order, whatever the number of processes, so a run
  resumes with another number of processes);
* `all_mean` averages a tensor over the processes (the identity in a single process): a model
  whose step makes a decision from batch statistics (VAE-GAN's balancing) decides on the whole
  batch's, so every copy decides alike;
* `average_buffers` averages batch norm's running statistics before a checkpoint.

A batch norm layer normalises with its own process's share of the batch (`nn.SyncBatchNorm`
needs CUDA), so models with batch norm do not match a single process exactly.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Iterator, Mapping

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["Context", "setup", "teardown", "is_distributed", "all_mean", "average_gradients", "ShardedLoader",
           "average_buffers", "same_on_every_process"]


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among `world_size` processes, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """The process that logs, draws samples and writes checkpoints."""
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def setup(device: str | torch.device | None = None, *, timeout_minutes: float = 10.0) -> Context:
    """Join the process group torchrun set up (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ...),
    or return a single-process context when not started by torchrun.

    On CUDA each process takes GPU ``LOCAL_RANK`` and NCCL; otherwise gloo, and each process
    gets an equal share of the machine's cores as its threads (two processes of two threads on
    two cores would fight over them). A process that fails waits `timeout_minutes` at most in a
    collective before the others stop with an error, rather than forever.
    """
    from gentut.device import pick_device

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Context(device=pick_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    chosen = pick_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
        backend = "nccl"
    else:
        backend = "gloo"
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    return Context(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_mean(tensor: Tensor) -> Tensor:
    """The mean of `tensor` over the processes (a copy); `tensor` itself in a single process."""
    if not is_distributed():
        return tensor
    total = tensor.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / dist.get_world_size()


def average_gradients(optimizers: Mapping[str, torch.optim.Optimizer], loader: "ShardedLoader") -> list:
    """Before each optimizer's step, replace its parameters' gradients by their mean over the
    processes, weighted by each process's share of the batch (`loader.share`): the gradient of the
    whole batch's mean loss, also when the last batch does not split evenly. Returns the hooks'
    handles (``handle.remove()`` takes one away)."""
    handles = []
    for optimizer in optimizers.values():
        def average(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
            grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            if not grads:
                return
            flat = torch.cat([g.reshape(-1) for g in grads]) * loader.share  # one message, not one per tensor
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            offset = 0
            for g in grads:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()

        handles.append(optimizer.register_step_pre_hook(average))
    return handles


class ShardedLoader:
    """This process's share of every batch of `loader` (an `InMemoryLoader`).

    Every process orders the examples alike (the loader's seed and the epoch), so batch b is the
    same set of examples on each; process r takes the r-th of `world_size` nearly equal slices of
    it. `len` is the loader's, so the step count, the epochs and a resume are those of a single
    process with the whole batch. `share` is the fraction of the current batch this process holds.
    """

    def __init__(self, loader, rank: int, world_size: int) -> None:
        if loader.batch_size < world_size:
            raise ValueError(f"a batch of {loader.batch_size} cannot be shared by {world_size} processes; "
                             f"use a batch size of at least {world_size} (it is the total over the processes)")
        self.loader, self.rank, self.world_size = loader, rank, world_size
        self.batch_size = loader.batch_size
        self.share = 1.0 / world_size

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator:
        from gentut.data.loader import Batch

        for batch in self.loader.epoch(epoch, start=start):
            index = torch.tensor_split(torch.arange(len(batch.x)), self.world_size)[self.rank]
            self.share = len(index) / len(batch.x)
            yield Batch(batch.x[index], None if batch.y is None else batch.y[index])

    def __iter__(self) -> Iterator:
        return self.epoch(0)


def average_buffers(model: nn.Module) -> None:
    """Replace every floating-point buffer (batch norm's running mean and variance) by its mean
    over the processes, so a checkpoint written by one of them holds the statistics of all."""
    if not is_distributed():
        return
    for buffer in model.buffers():
        if buffer.is_floating_point():
            buffer.copy_(all_mean(buffer))


def same_on_every_process(model: nn.Module) -> bool:
    """True if every process holds bitwise the same parameters (checked through a checksum)."""
    if not is_distributed():
        return True
    flat = torch.cat([p.detach().reshape(-1).double() for p in model.parameters()])
    checksum = torch.stack([flat.sum(), (flat * torch.arange(1, len(flat) + 1, dtype=flat.dtype,
                                                              device=flat.device)).sum()])
    low, high = checksum.clone(), checksum.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(torch.equal(low, high))
