"""One training loop for every model in the book.

The model says what one step is: its ``training_step(batch, step)`` computes the losses and calls
``step.update(loss, name)`` for each of its optimizers, in the paper's order, so a reader can point
at the line where each network learns (or ``step.update({name: loss, ...})`` for several losses
from one shared forward pass; `gentut.step` routes each gradient to its own network). The trainer
supplies the rest: the device, mixed precision, the progress bar, the loss history, evaluation,
hooks and checkpoints. This split is PyTorch Lightning's "manual optimization"; the size of the
loop follows minGPT's ``trainer.py``.

The contract a trainable model follows::

    class MyModel(nn.Module):
        def training_step(self, batch: Batch, step: Step) -> dict[str, Tensor]:
            with step.autocast():
                loss = ...
            step.update(loss)                     # or step.update(d_loss, "discriminator"); ...
            return {"loss": loss.detach()}        # scalars to log; never call .item() here

        def evaluation_step(self, batch: Batch) -> dict[str, Tensor]:   # optional
            return {"loss": ...}                  # per-batch means, run under torch.no_grad()

Losses stay on the device while training: the trainer syncs with the host once every
``log_every`` steps (and at epoch ends and checkpoints), to record the means since the last log
and to stop on a NaN or inf.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn
from tqdm import tqdm

from gentut import checkpoint, spec
from gentut.data.images import ImageData
from gentut.data.loader import Batch, InMemoryLoader
from gentut.device import Precision, autocast, forked_rng, pick_device, pick_precision, rng_state, set_rng_state
from gentut.history import History
from gentut.hooks import Hook
from gentut.step import Step, TrainStep, check_optimizers, named_optimizers
from gentut.validation import is_int, is_number

__all__ = ["Trainer", "TrainStep", "Step", "TrainerSettings", "NonFiniteLossError", "NonFiniteStateError"]

# What a trainer checkpoint must hold for load_state_dict to continue a run ("spec" is optional:
# a model of the reader's own classes has none).
SECTIONS = ("model", "optimizers", "scalers", "global_step", "steps_per_epoch", "history", "pending_losses",
            "last_log_step", "rng")


class NonFiniteLossError(RuntimeError):
    """A logged loss (or an evaluation metric) became NaN or infinite; training stopped before
    checkpointing it."""


class NonFiniteStateError(NonFiniteLossError):
    """A weight, buffer or optimizer state became NaN or infinite; no checkpoint was written with it."""


@dataclass(frozen=True)
class TrainerSettings:
    """The trainer's options that are plain values (stored in every checkpoint)."""

    grad_clip: float | None = None  # max global gradient norm per optimizer; None: no clipping
    log_every: int = 50  # steps between host syncs: often enough for smooth curves, rare enough to be free
    checkpoint_path: str | None = None
    checkpoint_every: int | None = None  # steps; a checkpoint is also written at the end of fit
    progress: bool = True

    def __post_init__(self) -> None:
        if self.grad_clip is not None and not (is_number(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(f"grad_clip must be a positive number or None, got {self.grad_clip!r}")
        if not _is_positive_int(self.log_every):
            raise ValueError(f"log_every must be a positive int, got {self.log_every!r}")
        if self.checkpoint_every is not None:
            if not _is_positive_int(self.checkpoint_every):
                raise ValueError(
                    f"checkpoint_every must be a positive int or None, got {self.checkpoint_every!r}"
                )
            if self.checkpoint_path is None:
                raise ValueError("checkpoint_every was given without checkpoint_path; pass both")
        if not isinstance(self.progress, bool):
            raise TypeError(f"progress must be a bool, got {type(self.progress).__name__}")


class Trainer:
    """Trains a model that follows the ``training_step`` contract (see the module docstring).

    Args:
        model: an nn.Module with ``training_step(batch, step)``; moved to `device`.
        optimizers: one optimizer (named ``"model"``) or a dict of named optimizers, built from
            the model's parameters (before or after moving it: ``.to()`` moves parameters in place).
        device: where to train; default `gentut.device.pick_device()`.
        mixed_precision: None: on for CUDA only; True: bf16 autocast (fp16 with a GradScaler on
            GPUs without bf16); False: fp32.
        grad_clip, log_every, checkpoint_path, checkpoint_every, progress: see `TrainerSettings`.
        hooks: `gentut.hooks.Hook` objects called at the start/end of fit, steps and epochs.

    After construction: ``trainer.model``, ``.device``, ``.precision``, ``.optimizers`` (name ->
    optimizer), ``.scalers``, ``.settings``, ``.global_step`` (steps finished) and ``.history``.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer],
        *,
        device: str | torch.device | None = None,
        mixed_precision: bool | None = None,
        grad_clip: float | None = None,
        log_every: int = 50,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        hooks: Sequence[Hook] = (),
        progress: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module) or not callable(getattr(model, "training_step", None)):
            raise TypeError(
                f"model must be an nn.Module with a method training_step(batch, step) that computes "
                f"its losses, calls step.update(loss, name) for each optimizer and returns a dict of "
                f"detached scalar tensors to log; got {type(model).__name__} without training_step"
            )
        self.settings = TrainerSettings(
            grad_clip=grad_clip,
            log_every=log_every,
            checkpoint_path=None if checkpoint_path is None else os.fspath(checkpoint_path),
            checkpoint_every=checkpoint_every,
            progress=progress,
        )
        self.device = pick_device(device)
        self.precision: Precision = pick_precision(self.device, mixed_precision)
        self.model = model.to(self.device)
        self.optimizers = named_optimizers(optimizers)
        check_optimizers(model, self.optimizers)
        for optimizer in self.optimizers.values():
            if optimizer.state:
                # State created before the model moved stays where it was; reloading casts it
                # to the parameters' device.
                optimizer.load_state_dict(optimizer.state_dict())
        self.scalers = (
            {name: torch.amp.GradScaler(self.device.type) for name in self.optimizers}
            if self.precision.use_scaler else {}
        )
        self.hooks = list(hooks)
        for hook in self.hooks:
            if not isinstance(hook, Hook):
                raise TypeError(f"hooks must be gentut.hooks.Hook objects, got {type(hook).__name__}")
        self.history = History()
        self.global_step = 0
        # How the model was built, so that gentut.spec.load_model rebuilds it from a checkpoint;
        # a model of the reader's own classes has none, and the checkpoint says why.
        try:
            self.spec: dict[str, Any] | None = spec.model_spec(self.model, self.optimizers)
            self._spec_missing = None
        except spec.SpecError as error:
            self.spec, self._spec_missing = None, str(error)
        self._step = TrainStep(
            self.optimizers, device=self.device, precision=self.precision,
            grad_clip=self.settings.grad_clip, scalers=self.scalers,
        )
        # losses since the last log, kept on the device: name -> (step numbers, scalar tensors)
        self._pending: dict[str, tuple[list[int], list[Tensor]]] = {}
        self._last_log_step = 0
        self._latest: dict[str, float] = {}  # shown on the progress bar
        self._steps_per_epoch: int | None = None
        self._last_checkpoint: Path | None = None
        self._last_checkpoint_step = 0
        self._bar: tqdm | None = None

    # ----------------------------------------------------------------------------------------
    # The loop
    # ----------------------------------------------------------------------------------------
    def fit(
        self,
        loader: Any,
        *,
        epochs: int | None = None,
        steps: int | None = None,
        eval_loader: Iterable[Batch] | None = None,
        eval_every: int | None = None,
        batch_size: int = 128,
    ) -> History:
        """Train until `global_step` reaches the target, and return the history.

        Give exactly one of `epochs` or `steps`. Both are TOTALS counted from step 0, not amounts
        to add: after resuming from a checkpoint at step 300, ``fit(loader, epochs=5)`` trains the
        remaining steps of 5 epochs (and does nothing if they are done), continuing exactly where
        the saved run was, batch for batch. `loader` is an `InMemoryLoader` (anything with
        ``len()`` and ``epoch(epoch, start)``). Your own data trains in the same call: pass a
        tensor of images (N, C, H, W) in [0, 1] or an `ImageData` instead of a loader (and for
        `eval_loader`), and it is checked like the built-in data sets and batched in shuffled
        batches of `batch_size`; any other tensor (2-D points, say) is batched as it is. With `eval_loader`, the model is evaluated every `eval_every`
        steps, or at the end of each epoch if `eval_every` is None.
        """
        loader = _as_loader(loader, batch_size, shuffle=True)
        if eval_loader is not None:
            eval_loader = _as_loader(eval_loader, batch_size, shuffle=False)
        total = self._check_fit_arguments(loader, epochs, steps, eval_loader, eval_every)
        if self.global_step >= total:
            return self.history
        per_epoch = self._steps_per_epoch = len(loader)
        num_epochs = math.ceil(total / per_epoch)
        checkpointing = self.settings.checkpoint_path is not None
        self._bar = tqdm(
            total=total, initial=self.global_step, unit="step", file=sys.stdout, mininterval=1.0,
            desc=f"epoch {self.global_step // per_epoch + 1}/{num_epochs}",
            disable=not self.settings.progress,
        )
        try:
            self._call_hooks("on_fit_start")
            while self.global_step < total:
                epoch, start = divmod(self.global_step, per_epoch)
                self._bar.set_description(f"epoch {epoch + 1}/{num_epochs}", refresh=False)
                for batch in loader.epoch(epoch, start=start):
                    self._train_step(batch.to(self.device, non_blocking=True))
                    step = self.global_step
                    epoch_done, finished = step % per_epoch == 0, step == total
                    if _due(step, self.settings.log_every) or epoch_done or finished:
                        self._log_losses()  # the host sync, and where NaN/inf is caught
                    if eval_loader is not None and (_due(step, eval_every) if eval_every else epoch_done):
                        self._log_evaluation(eval_loader)
                    self._call_hooks("on_step_end")
                    if epoch_done:
                        self._call_hooks("on_epoch_end", epoch)
                    if _due(step, self.settings.checkpoint_every) or (finished and checkpointing):
                        self.save_checkpoint()
                    self._bar.update(1)
                    if finished:
                        break
            self._call_hooks("on_fit_end")
        finally:
            self._bar.close()  # leaves the bar's final line, with the last losses, as the summary
            self._bar = None
        return self.history

    def _train_step(self, batch: Batch) -> None:
        self._step.begin(self.global_step)
        logs = self.model.training_step(batch, self._step)
        if not isinstance(logs, dict):
            raise TypeError(
                f"training_step must return a dict of detached scalar tensors to log, "
                f"got {type(logs).__name__}"
            )
        if not self._step.updates:
            raise RuntimeError("training_step returned without calling step.update(loss), so nothing learned")
        for name, value in logs.items():
            if not isinstance(value, Tensor) or value.numel() != 1:
                raise TypeError(
                    f"training_step's {name!r} must be a scalar tensor, got "
                    f"{type(value).__name__}{'' if not isinstance(value, Tensor) else tuple(value.shape)}"
                )
            steps, values = self._pending.setdefault(name, ([], []))
            steps.append(self.global_step + 1)
            values.append(value.detach().reshape(()))
        self.global_step += 1

    def _log_losses(self) -> None:
        """Record the mean of each loss since the last log; raise if one is NaN or infinite."""
        if not self._pending:
            return
        pending, first = self._pending, self._last_log_step + 1
        self._pending, self._last_log_step = {}, self.global_step
        names = list(pending)
        # one device->host copy for all losses
        means = torch.stack([torch.stack(values).float().mean() for _, values in pending.values()]).tolist()
        bad = [name for name, mean in zip(names, means) if not math.isfinite(mean)]
        if bad:
            raise NonFiniteLossError(
                f"loss {', '.join(_first_non_finite(name, *pending[name]) for name in bad)} (checked "
                f"at step {self.global_step}, covering steps {first}-{self.global_step}); training "
                f"stopped and no checkpoint was written with it. {self._checkpoint_note()} "
                f"Try a lower learning rate or grad_clip=1.0."
            )
        for name, mean in zip(names, means):
            self.history.log(name, self.global_step, mean)
        self._show(dict(zip(names, means)))

    def _checkpoint_note(self) -> str:
        if self._last_checkpoint is not None:
            return (
                f"The last good checkpoint (step {self._last_checkpoint_step}) is kept at "
                f"{self._last_checkpoint}."
            )
        if self.settings.checkpoint_path is not None:
            return f"No checkpoint had been written yet to {self.settings.checkpoint_path}."
        return "Checkpointing is off (pass checkpoint_path= to keep the last good state)."

    def _show(self, values: dict[str, float]) -> None:
        self._latest.update(values)
        if self._bar is not None:
            postfix = ", ".join(f"{name}={value:.4g}" for name, value in self._latest.items())
            self._bar.set_postfix_str(postfix, refresh=False)

    def _call_hooks(self, event: str, *args: Any) -> None:
        if not self.hooks:
            return
        was_training = self.model.training
        # forked RNG: a hook drawing noise (a sample grid) must not change the training run
        with forked_rng(self.device):
            for hook in self.hooks:
                getattr(hook, event)(self, *args)
        self.model.train(was_training)

    # ----------------------------------------------------------------------------------------
    # Evaluation
    # ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, loader: Iterable[Batch]) -> dict[str, float]:
        """Means of ``model.evaluation_step`` over `loader`, each batch weighted by its size."""
        if not callable(getattr(self.model, "evaluation_step", None)):
            raise TypeError(f"{type(self.model).__name__} has no evaluation_step(batch) to evaluate with")
        was_training = self.model.training
        self.model.eval()
        sums: dict[str, Tensor] = {}
        count = 0
        try:
            with forked_rng(self.device):  # evaluation noise must not change the training run
                for batch in loader:
                    batch = batch.to(self.device, non_blocking=True)
                    with autocast(self.device, self.precision):
                        metrics = self.model.evaluation_step(batch)
                    if not isinstance(metrics, dict):
                        raise TypeError(f"evaluation_step must return a dict, got {type(metrics).__name__}")
                    size = batch.x.shape[0]
                    for name, value in metrics.items():
                        sums[name] = sums.get(name, 0.0) + value.detach().float().reshape(()) * size
                    count += size
        finally:
            self.model.train(was_training)
        if not sums:
            return {}
        means = dict(zip(sums, (torch.stack(list(sums.values())) / count).tolist()))
        bad = [f"{name!r} = {value}" for name, value in means.items() if not math.isfinite(value)]
        if bad:
            # an error, not a logged value: a NaN in the history reads as a point off the chart
            raise NonFiniteLossError(
                f"evaluation at step {self.global_step} gave {', '.join(bad)} over {count} examples; "
                f"the model or the evaluation data hold NaN or infinity. {self._checkpoint_note()}"
            )
        return means

    def _log_evaluation(self, loader: Iterable[Batch]) -> None:
        metrics = {f"eval/{name}": value for name, value in self.evaluate(loader).items()}
        for name, value in metrics.items():
            self.history.log(name, self.global_step, value)
        self._show(metrics)

    # ----------------------------------------------------------------------------------------
    # Checkpoints
    # ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: weights, optimizers, step, history, RNG."""
        per_epoch = self._steps_per_epoch
        return {
            "spec": self.spec,
            "spec_missing": self._spec_missing,
            "model": self.model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "scalers": {name: scaler.state_dict() for name, scaler in self.scalers.items()},
            "global_step": self.global_step,
            "epoch": None if per_epoch is None else self.global_step // per_epoch,
            "steps_per_epoch": per_epoch,
            "history": self.history.state_dict(),
            # losses since the last log travel along, so checkpointing does not change the history
            "pending_losses": {
                name: {"steps": list(steps), "values": torch.stack(values)}
                for name, (steps, values) in self._pending.items()
            },
            "last_log_step": self._last_log_step,
            "rng": rng_state(self.device),
            "settings": {
                **asdict(self.settings), "precision": self.precision.label, "device": str(self.device)
            },
        }

    def load_state_dict(self, state: Mapping[str, Any], *, where: object = "the trainer state") -> None:
        """Restore what `state_dict` returned; `where` names its file in error messages."""
        if not isinstance(state, Mapping):
            raise TypeError(f"{where} must be a dict from Trainer.state_dict(), got {type(state).__name__}")
        checkpoint.require_sections(state, SECTIONS, where, kind="trainer checkpoint")
        if set(state["optimizers"]) != set(self.optimizers):
            raise ValueError(
                f"the checkpoint has optimizers {sorted(state['optimizers'])}, "
                f"this trainer has {sorted(self.optimizers)}"
            )
        self.model.load_state_dict(state["model"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])  # moves the state to the params' device
        for name, scaler in self.scalers.items():
            if name in state["scalers"]:
                scaler.load_state_dict(state["scalers"][name])
        self.global_step = int(state["global_step"])
        self._last_log_step = int(state["last_log_step"])
        self._pending = {
            name: (list(pending["steps"]), list(pending["values"].to(self.device).unbind(0)))
            for name, pending in state["pending_losses"].items()
        }
        self._steps_per_epoch = state["steps_per_epoch"]
        self.history.load_state_dict(state["history"])
        self._latest = {name: self.history.last(name) for name in self.history.names}
        set_rng_state(state["rng"])

    def save_checkpoint(self, path: str | os.PathLike | None = None) -> Path:
        """Write the trainer's state to `path` (default: `checkpoint_path`) atomically."""
        path = path if path is not None else self.settings.checkpoint_path
        if path is None:
            raise ValueError("no path given and the trainer has no checkpoint_path")
        pending = [torch.stack(values) for _, values in self._pending.values()]
        if pending and not torch.cat(pending).isfinite().all():
            self._log_losses()  # raises NonFiniteLossError rather than saving a diverged model
        self._check_finite_state()  # finite losses do not prove finite weights (a NaN lr, say)
        self._last_checkpoint = checkpoint.save_checkpoint(path, self.state_dict())
        self._last_checkpoint_step = self.global_step
        return self._last_checkpoint

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore everything `save_checkpoint` wrote; a following `fit` resumes where it stopped."""
        self.load_state_dict(checkpoint.load_checkpoint(path, map_location="cpu"), where=path)
        self._last_checkpoint, self._last_checkpoint_step = Path(path), self.global_step

    def _state_tensors(self) -> Iterable[tuple[str, Tensor]]:
        """(name, tensor) of every floating-point weight, buffer and optimizer state."""
        for name, tensor in self.model.state_dict().items():
            if tensor.is_floating_point():
                yield f"model {name!r}", tensor
        names = {id(p): n for n, p in self.model.named_parameters()}
        for opt_name, optimizer in self.optimizers.items():
            for parameter, values in optimizer.state.items():
                for key, value in values.items():
                    if isinstance(value, Tensor) and value.is_floating_point():
                        yield f"optimizer {opt_name!r} state {key!r} of {names.get(id(parameter), 'a parameter')!r}", value

    def _check_finite_state(self) -> None:
        """Raise NonFiniteStateError, naming the first bad tensor, before a save would keep it."""
        tensors = list(self._state_tensors())
        if not tensors:
            return
        # one host sync for all of them; the names are looked up only on the error path
        if bool(torch.stack([t.isfinite().all() for _, t in tensors]).all()):
            return
        bad = [name for name, t in tensors if not bool(t.isfinite().all())]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise NonFiniteStateError(
            f"{bad[0]}{more} holds NaN or infinity at step {self.global_step}, though the logged losses "
            f"were finite; training stopped and no checkpoint was written with it. {self._checkpoint_note()} "
            f"Try a lower learning rate or grad_clip=1.0."
        )

    def _check_fit_arguments(
        self, loader: Any, epochs: int | None, steps: int | None, eval_loader: Any, eval_every: int | None
    ) -> int:
        """Validate fit's arguments and return the total number of steps to reach."""
        if not (callable(getattr(loader, "epoch", None)) and hasattr(loader, "__len__")):
            raise TypeError(
                f"loader must have len() and epoch(epoch, start) like gentut.data.InMemoryLoader "
                f"(so a resumed run sees the same batches), got {type(loader).__name__}"
            )
        if len(loader) < 1:
            raise ValueError("loader yields no batches")
        if (epochs is None) == (steps is None):
            raise ValueError(
                f"give exactly one of epochs or steps (totals from step 0), "
                f"got epochs={epochs!r}, steps={steps!r}"
            )
        for label, value in (("epochs", epochs), ("steps", steps)):
            if value is not None and not (_is_positive_int(value) or value == 0):
                raise ValueError(f"{label} must be a non-negative int, got {value!r}")
        if eval_every is not None:
            if eval_loader is None:
                raise ValueError("eval_every was given without eval_loader")
            if not _is_positive_int(eval_every):
                raise ValueError(f"eval_every must be a positive int or None, got {eval_every!r}")
        if eval_loader is not None and not callable(getattr(self.model, "evaluation_step", None)):
            raise TypeError(
                f"eval_loader was given but {type(self.model).__name__} has no evaluation_step(batch)"
            )
        trained_with = self._steps_per_epoch
        if trained_with is not None and self.global_step > 0 and trained_with != len(loader):
            raise ValueError(
                f"this run was trained with {trained_with} batches per epoch but the loader has "
                f"{len(loader)}; resuming would not see the same batches. Use the same loader settings."
            )
        return steps if steps is not None else epochs * len(loader)


def _as_loader(data: Any, batch_size: int, *, shuffle: bool) -> Any:
    """Loaders pass through; images (a 4-D tensor or an `ImageData`) are checked like the
    built-in data sets and batched; any other tensor (2-D points, vectors) is batched as it is."""
    if isinstance(data, Tensor) and data.ndim == 4:
        data = ImageData.from_tensor(data)
    if isinstance(data, ImageData):
        return data.loader(batch_size, shuffle=shuffle)
    if isinstance(data, Tensor):
        return InMemoryLoader(data, batch_size=batch_size, shuffle=shuffle)
    return data


def _first_non_finite(name: str, steps: list[int], values: list[Tensor]) -> str:
    """Where loss `name` first went non-finite (an error path, so syncing here is fine)."""
    finite = torch.stack(values).isfinite().tolist()
    if all(finite):  # each value finite, but their sum overflowed
        return f"{name!r} averaged to a non-finite value"
    index = finite.index(False)
    return f"{name!r} became {values[index].item()} at step {steps[index]}"


def _due(step: int, every: int | None) -> bool:
    return every is not None and step % every == 0


def _is_positive_int(value: Any) -> bool:
    return is_int(value) and value > 0
