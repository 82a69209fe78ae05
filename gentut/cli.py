"""The command line: train any model of the book, draw samples from it, and score it.

    python -m gentut train vae --data fashion-mnist --out runs/vae --set train.epochs=20
    python -m gentut train dcgan --data ~/my-photos --out runs/faces     # a folder of PNG/JPEG files
    python -m gentut train vae --out runs/vae --resume                   # continue where it stopped
    python -m gentut sample runs/vae --count 64 --seed 1
    python -m gentut eval runs/vae

A run's folder holds ``config.toml`` (the model's spec and the training settings, as run),
``checkpoint.pt`` (everything needed to continue), ``history.csv`` (the losses) and
``samples/`` (a grid after every epoch). ``--config FILE`` starts from a file of that form
instead of the chapter's defaults; ``--set section.key=value`` changes one setting.

Exit codes: 0 done; 1 training stopped because a loss or weight became NaN or infinite; 2 bad
arguments or configuration; 3 a missing or unreadable file; 130 interrupted (Ctrl-C), after
writing a checkpoint the run resumes from.
"""
from __future__ import annotations

import argparse
import csv
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from gentut import distributed
from gentut.hooks import Hook

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_FILES, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# The command-line names of the book's models -> their rows in gentut.comparison.book_candidates.
MODELS = {
    "autoencoder": "Autoencoder",
    "denoising-autoencoder": "Denoising autoencoder",
    "vae": "VAE",
    "beta-vae": "beta-VAE (beta = 4)",
    "conditional-vae": "Conditional VAE",
    "gan": "GAN (MLP)",
    "wgan-gp": "WGAN-GP (MLP)",
    "dcgan": "DCGAN",
    "conditional-dcgan": "Conditional DCGAN",
    "vaegan": "VAE-GAN",
}
BUILT_IN_DATA = ("fashion-mnist", "mnist", "synthetic-digits")


class UsageError(Exception):
    """Bad arguments or configuration (exit code 2)."""


class FileProblem(Exception):
    """A missing or unreadable file (exit code 3)."""


# --- configuration -------------------------------------------------------------------------------


def default_config(model: str) -> dict[str, Any]:
    """The chapter's spec of `model` and its training settings, as a configuration dict."""
    from gentut.comparison import book_candidates

    if model not in MODELS:
        raise UsageError(f"unknown model {model!r}; the book's models are {', '.join(MODELS)}")
    cand = book_candidates(10, names=[MODELS[model]])[0]
    return {"model": dict(cand.spec),
            "train": {"data": "fashion-mnist", "epochs": cand.epochs, "batch_size": cand.batch_size,
                      "seed": cand.seed, "binarized": cand.binarized, "train_images": 0,
                      "mixed_precision": "auto", "samples_every_epoch": 64}}


def _train_settings(config: dict[str, Any]) -> dict[str, Any]:
    from gentut.validation import is_int

    train = config.get("train")
    if not isinstance(train, dict):
        raise UsageError("the configuration has no [train] section")
    known = {"data", "epochs", "batch_size", "seed", "binarized", "train_images", "mixed_precision",
             "samples_every_epoch"}
    unknown = sorted(set(train) - known)
    if unknown:
        raise UsageError(f"unknown [train] settings {unknown}; known: {sorted(known)}")
    for key, least in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("train_images", 0),
                       ("samples_every_epoch", 0)):
        if not is_int(train.get(key)) or train[key] < least:
            raise UsageError(f"train.{key} must be an int >= {least}, got {train.get(key)!r}")
    if not isinstance(train.get("binarized"), bool):
        raise UsageError(f"train.binarized must be true or false, got {train.get('binarized')!r}")
    if train.get("mixed_precision") not in ("auto", True, False):
        raise UsageError(f"train.mixed_precision must be \"auto\", true or false, got {train.get('mixed_precision')!r}")
    if not isinstance(train.get("data"), str) or not train["data"]:
        raise UsageError(f"train.data must be a data set name {BUILT_IN_DATA} or a path, got {train.get('data')!r}")
    return train


def _image_shape(model) -> tuple[int, int, int]:
    """The (C, H, W) of the images `model` makes: its decoder's or generator's output."""
    network = getattr(model, "decoder", None) or model.generator
    network = getattr(network, "network", network)  # a conditional model's network is wrapped
    return tuple(network.image_shape)


def load_data(name: str, split: str, image_shape: tuple[int, int, int], n: int = 0):
    """A built-in data set (`BUILT_IN_DATA`) or the reader's files at path `name`."""
    from gentut.data import load_book_images
    from gentut.data.files import load_image_files

    if name in BUILT_IN_DATA:
        if tuple(image_shape) != (1, 28, 28):
            raise UsageError(f"{name} holds 1x28x28 images, but the model takes {image_shape}")
        return load_book_images(name, split, n=n or None)
    path = Path(name).expanduser()
    if not path.exists():
        raise FileProblem(f"train.data is neither a built-in data set {BUILT_IN_DATA} nor an existing path: {name}")
    try:
        data = load_image_files(path, image_shape)
    except ValueError as error:
        raise FileProblem(str(error)) from None
    # A reader's own data has no split: a fixed random tenth is held out (files sorted by name or
    # class folders in order would otherwise hold out the last class only).
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    held_out = max(1, len(data) // 10)
    if split == "test":
        return data.subset(order[-held_out:])
    keep = order[:-held_out]
    return data.subset(keep[:n] if n else keep)


# --- the commands --------------------------------------------------------------------------------


def train(args: argparse.Namespace) -> int:
    from gentut.config import ConfigError, apply_overrides, read_config
    from gentut.spec import SpecError, build_model, build_optimizers

    out = Path(args.out).expanduser()
    checkpoint = out / "checkpoint.pt"
    try:
        if args.resume:
            if not checkpoint.is_file():
                raise FileProblem(f"--resume: there is no checkpoint.pt in {out} to continue from")
            config = read_config(out / "config.toml")
            longer = [item for item in args.set or [] if item.partition("=")[0].strip() == "train.epochs"]
            if args.config or args.data or len(longer) != len(args.set or []):
                raise UsageError("--resume continues the run as configured; only --set train.epochs=N "
                                 "(a larger total, to train longer) may change it")
            config = apply_overrides(config, longer)
        else:
            if checkpoint.exists():
                raise UsageError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
            config = read_config(args.config) if args.config else default_config(args.model)
            if args.data:
                config.setdefault("train", {})["data"] = args.data
            config = apply_overrides(config, args.set or [])
        settings = _train_settings(config)
        torch.manual_seed(settings["seed"])  # the initial weights follow the seed
        model = build_model(config["model"])
        optimizers = build_optimizers(config["model"], model)
    except (ConfigError, SpecError, ValueError, TypeError) as error:  # a config class's own checks raise these
        raise UsageError(f"the configuration does not build a model: {error}") from None
    shape = _image_shape(model)
    data = load_data(settings["data"], "train", shape, settings["train_images"])
    if settings["binarized"]:
        data = data.binarized(settings["seed"])
    context = distributed.setup(args.device)  # one process, or one of torchrun's
    try:
        return _fit(args, config, settings, model, optimizers, data, out, context)
    finally:
        distributed.teardown()


def _fit(args, config, settings, model, optimizers, data, out: Path, context: distributed.Context) -> int:
    from gentut.checkpoint import CheckpointError
    from gentut.config import to_toml
    from gentut.trainer import NonFiniteLossError, Trainer

    main_process = context.is_main
    checkpoint = out / "checkpoint.pt"
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        # the configuration as run (with a longer train.epochs after a --resume that asked for it)
        (out / "config.toml").write_text(to_toml(config, header="gentut run configuration, as run:\n"
                                                 "python -m gentut train --config this-file --out NEW-FOLDER"))
    interactive = sys.stdout.isatty() and main_process
    mixed = None if settings["mixed_precision"] == "auto" else settings["mixed_precision"]
    loader = data.loader(settings["batch_size"], seed=settings["seed"])
    if context.world_size > 1:
        loader = distributed.ShardedLoader(loader, context.rank, context.world_size)
    stop = StopAtStepEnd()
    hooks: list[Hook] = [stop, SyncBatchStatistics()]
    if main_process:
        hooks.append(EpochReport(out, settings, plain_lines=not interactive))
    trainer = Trainer(model, optimizers, device=context.device, mixed_precision=mixed, progress=interactive,
                      checkpoint_path=checkpoint if main_process else None,
                      checkpoint_every=len(loader) if main_process else None, hooks=hooks)
    if context.world_size > 1:
        distributed.average_gradients(trainer.optimizers, loader)
    if args.resume:
        try:
            trainer.load_checkpoint(checkpoint)
        except (CheckpointError, ValueError) as error:
            raise FileProblem(str(error)) from None
    if context.world_size > 1:
        # Every process starts from the same weights (same seed) but draws its own noise; after a
        # resume the streams start afresh from the step, so any number of processes can continue.
        torch.manual_seed(settings["seed"] * 1_000_003 + trainer.global_step * 1_009 + context.rank + 1)
    processes = f" on {context.world_size} processes" if context.world_size > 1 else ""
    say = print if main_process else (lambda *a, **k: None)
    say(f"{config['model']['model']} on {data.source}; {settings['epochs']} epoch{'s' * (settings['epochs'] != 1)} "
        f"of {len(loader)} steps{processes}, from step {trainer.global_step}; writing to {out}", flush=True)
    started = time.perf_counter()
    try:
        with stop:
            trainer.fit(loader, epochs=settings["epochs"])
    except _StopRequested:
        distributed.average_buffers(trainer.model)  # every process: it is a collective
        if main_process:
            trainer.save_checkpoint()
            _write_history(out, trainer)
        say(f"interrupted at step {trainer.global_step}; checkpoint written. Continue with: "
            f"python -m gentut train --out {out} --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except NonFiniteLossError as error:
        if main_process:
            _write_history(out, trainer)
        say(f"training stopped: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    if not distributed.same_on_every_process(trainer.model):
        raise RuntimeError("the processes ended with different weights; the gradient averaging failed")
    if main_process:
        _write_history(out, trainer)
    say(f"done: {trainer.global_step} steps{processes} in {time.perf_counter() - started:.1f} s; "
        f"checkpoint, history.csv and samples/ in {out}")
    return EXIT_OK


class SyncBatchStatistics(Hook):
    """At the end of every epoch (before its checkpoint), batch norm's running statistics become
    their mean over the processes; nothing in a single process."""

    def on_epoch_end(self, trainer, epoch: int) -> None:
        distributed.average_buffers(trainer.model)


class StopAtStepEnd(Hook):
    """Ctrl-C (SIGINT) and SIGTERM (a scheduler's stop, ``kill``) stop training at the end of
    the current step, so the checkpoint written then holds a whole step: a signal handled in the
    middle of an update would save weights one step ahead of the step counter. A second Ctrl-C
    stops at once, without a checkpoint."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> "StopAtStepEnd":
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt  # asked twice: stop now
            self.requested = True

        self.previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> bool:
        for sig, previous in self.previous.items():
            signal.signal(sig, previous)
        return False

    def on_step_end(self, trainer) -> None:
        requested = self.requested
        if distributed.is_distributed():  # all processes stop after the same step, or none
            flag = torch.tensor([float(requested)], device=next(trainer.model.parameters()).device)
            requested = bool(distributed.all_mean(flag).item() > 0)
        if requested:
            raise _StopRequested


class _StopRequested(Exception):
    pass


class EpochReport(Hook):
    """After every epoch: a plain progress line when no progress bar is shown (output to a file
    or a pipe), and a grid of samples in the run's samples/ folder."""

    def __init__(self, out: Path, settings: dict[str, Any], *, plain_lines: bool) -> None:
        self.out, self.settings, self.plain_lines = out, settings, plain_lines
        self.started = time.perf_counter()

    def on_epoch_end(self, trainer, epoch: int) -> None:
        if self.plain_lines:
            losses = ", ".join(f"{name}={trainer.history.last(name):.4g}" for name in trainer.history.names)
            print(f"epoch {epoch + 1}/{self.settings['epochs']}, step {trainer.global_step}: {losses} "
                  f"({time.perf_counter() - self.started:.0f} s)", flush=True)
        count = self.settings["samples_every_epoch"]
        if count and callable(getattr(trainer.model, "sample", None)):
            save_grid(draw(trainer.model, count, seed=0), self.out / "samples" / f"epoch-{epoch + 1:03d}.png")


def _write_history(out: Path, trainer) -> None:
    """history.csv: one row per logged value (name, step, value), written atomically."""
    temporary = out / f".history.csv.{os.getpid()}.tmp"
    with open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "step", "value"])
        for name in trainer.history.names:
            steps, values = trainer.history.series(name)
            writer.writerows((name, step, value) for step, value in zip(steps, values))
    os.replace(temporary, out / "history.csv")


def draw(model, count: int, *, seed: int, label: int | None = None):
    """`count` samples of `model` (balanced over the classes of a conditional one, or all of `label`)."""
    classes = int(getattr(model.config, "num_classes", 0) or 0)
    labels = None
    if classes:
        if label is not None and not 0 <= label < classes:
            raise UsageError(f"--class must be in [0, {classes}) for this model, got {label}")
        labels = torch.full((count,), label) if label is not None else torch.arange(count) % classes
    elif label is not None:
        raise UsageError("--class is for conditional models; this one draws without labels")
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    return model.sample(count, labels=labels, generator=generator).float().cpu().clamp(0, 1)


def save_grid(images, path: Path, nrow: int | None = None) -> Path:
    """Images (N, C, H, W) in [0, 1] as one PNG grid with 2-pixel gaps."""
    import math

    import numpy as np
    from PIL import Image

    n, channels, height, width = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    canvas = np.ones((channels, rows * (height + 2) + 2, nrow * (width + 2) + 2), dtype=np.float32)
    for i, image in enumerate(images.numpy()):
        top, left = 2 + (i // nrow) * (height + 2), 2 + (i % nrow) * (width + 2)
        canvas[:, top:top + height, left:left + width] = image
    pixels = (canvas * 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels[0] if channels == 1 else pixels.transpose(1, 2, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


def _load_run(folder: str):
    from gentut.checkpoint import CheckpointError
    from gentut.config import ConfigError, read_config
    from gentut.spec import SpecError, load_model

    folder = Path(folder).expanduser()
    if not (folder / "checkpoint.pt").is_file():
        raise FileProblem(f"{folder} holds no checkpoint.pt; train a model into it first")
    try:
        return folder, read_config(folder / "config.toml"), load_model(folder / "checkpoint.pt")
    except (CheckpointError, ConfigError, SpecError) as error:
        raise FileProblem(str(error)) from None


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise UsageError(f"{name} must be a positive number, got {value}")


def sample(args: argparse.Namespace) -> int:
    _positive("--count", args.count)
    folder, _, model = _load_run(args.run)
    if not callable(getattr(model, "sample", None)):
        raise UsageError(f"a {type(model).__name__} does not draw samples (an autoencoder has no prior)")
    images = draw(model, args.count, seed=args.seed, label=args.label)
    path = Path(args.output).expanduser() if args.output else folder / f"samples-seed{args.seed}.png"
    save_grid(images, path)
    if args.npy:
        import numpy as np

        np.save(path.with_suffix(".npy"), images.numpy())
    print(f"{args.count} samples written to {path}")
    return EXIT_OK


def evaluate(args: argparse.Namespace) -> int:
    from gentut.comparison import score_model
    from gentut.metrics import format_table, load_or_train_classifier

    _positive("--n", args.n)
    folder, config, model = _load_run(args.run)
    settings = _train_settings(config)
    shape = _image_shape(model)
    train_data = load_data(settings["data"], "train", shape, settings["train_images"])
    test = load_data(settings["data"], "test", shape)
    if train_data.labels is None:
        raise UsageError("the book's metrics need a labelled data set to train their feature classifier; "
                         f"{settings['data']} has no labels")
    classifier, _ = load_or_train_classifier(train_data, eval_data=test, progress=False)
    n = min(args.n, len(test))
    scores = score_model(model, train=train_data, test=test, classifier=classifier, n_eval=n,
                         binarized_test=test.binarized(settings["seed"] + 1) if settings["binarized"] else None,
                         seed=args.seed)
    columns = [c for c in ("mse", "log_likelihood", "fd", "precision", "recall", "coverage", "copying")
               if scores.get(c) is not None]
    print(format_table({config["model"]["model"]: scores}, columns,
                       footer=f"{n:,} samples or reconstructions against {n:,} test images of {settings['data']}"))
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m gentut", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=__doc__.split("\n\n", 1)[1].replace("``", ""))
    commands = top.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="train a model of the book (or continue one with --resume)",
                            description="Train a model of the book, as its chapter builds it.")
    t.add_argument("model", nargs="?", choices=list(MODELS), metavar="MODEL",
                   help=f"one of: {', '.join(MODELS)} (not needed with --config or --resume)")
    t.add_argument("--out", required=True, help="the run's folder (created)")
    t.add_argument("--data", help=f"{', '.join(BUILT_IN_DATA)}, a .npy/.npz file or a folder of PNG/JPEG images")
    t.add_argument("--config", help="a config.toml to start from instead of the chapter's defaults")
    t.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="change one setting, e.g. train.epochs=20 or model.config.beta=2.0 (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    s = commands.add_parser("sample", help="draw samples from a trained model", description="Draw a grid of samples.")
    s.add_argument("run", help="the run's folder")
    s.add_argument("--count", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="label", type=int, default=None, help="a class, for a conditional model")
    s.add_argument("--output", help="the PNG to write (default: RUN/samples-seed<SEED>.png)")
    s.add_argument("--npy", action="store_true", help="also write the samples as a .npy array beside the PNG")
    e = commands.add_parser("eval", help="score a trained model with the book's metrics",
                            description="Score a trained model on its data's test images.")
    e.add_argument("run", help="the run's folder")
    e.add_argument("--n", type=int, default=2000, help="samples and test images per metric")
    e.add_argument("--seed", type=int, default=0)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "train" and not (args.model or args.config or args.resume):
        print("python -m gentut train: give a MODEL, --config FILE or --resume", file=sys.stderr)
        return EXIT_USAGE
    try:
        return {"train": train, "sample": sample, "eval": evaluate}[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (FileProblem, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FILES
