"""Does a run killed at any moment -- mid-step or mid-checkpoint -- resume to the same weights?

A VAE-GAN (three networks, three Adam optimizers, the several-loss update, noise drawn every
step) trains on synthetic digits in a child process that writes a checkpoint every
`--every` steps. The parent kills it with SIGKILL (no handler runs, as with the out-of-memory
killer or a pulled plug) at a random moment after it started training, starts it again from the
same folder, and repeats until a run gets to the end. Every other kill aims at a checkpoint write:
it comes as soon as the writer's temporary file appears. The result must equal, bit for bit, a run
that was never interrupted: every weight, every optimizer state, the loss history and the random
generator. A kill is counted as "during a checkpoint write" when it left the writer's temporary
file behind; the next save removes such files, and the parent checks none is left at the end.

    python bench/kill_and_resume.py [--kills 20] [--steps 400] [--every 2] [--seed 0]

Prints one line per kill and a summary; exits 1 if any resumed run differs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKPOINT = "run.pt"


def train(folder: Path, steps: int, every: int) -> None:
    """The child: resume from folder/run.pt if it is there, train to `steps`, write the fingerprint."""
    import torch

    torch.set_num_threads(1)  # bitwise equality needs the same summation order in every run
    from gentut.data import load_images
    from gentut.models.vaegan import build_vaegan, vaegan_optimizers
    from gentut.trainer import Trainer

    torch.manual_seed(0)
    model = build_vaegan(8, width=8, gamma=1e-2)
    trainer = Trainer(model, vaegan_optimizers(model), device="cpu", progress=False, log_every=3,
                      checkpoint_path=folder / CHECKPOINT, checkpoint_every=every)
    if (folder / CHECKPOINT).exists():
        trainer.load_checkpoint(folder / CHECKPOINT)
    data = load_images("synthetic-digits", "train", n=128, seed=0)
    print("training", trainer.global_step, flush=True)  # the parent kills only after this line
    trainer.fit(data.loader(16, seed=0), steps=steps)
    (folder / "fingerprint.json").write_text(json.dumps(fingerprint(trainer)))


def fingerprint(trainer) -> dict[str, str]:
    """SHA-256 of the weights, the optimizer states, the history and the generator state."""
    import torch

    def tensors(value, prefix=""):
        if isinstance(value, torch.Tensor):
            yield prefix, value
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                yield from tensors(value[key], f"{prefix}/{key}")
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                yield from tensors(item, f"{prefix}/{i}")

    def digest(value) -> str:
        h = hashlib.sha256()
        for name, tensor in tensors(value):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        h.update(json.dumps(value, default=lambda v: None, sort_keys=True).encode())  # the plain numbers
        return h.hexdigest()

    state = trainer.state_dict()
    return {part: digest(state[part]) for part in ("model", "optimizers", "history", "rng")} | {
        "global_step": str(state["global_step"])}


def _start(folder: Path, steps: int, every: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", str(folder), "--steps", str(steps),
                             "--every", str(every)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_to_end(folder: Path, steps: int, every: int) -> dict[str, str]:
    child = _start(folder, steps, every)
    out, err = child.communicate(timeout=600)
    if child.returncode != 0:
        raise RuntimeError(f"the training process failed:\n{err}")
    return json.loads((folder / "fingerprint.json").read_text())


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(f".{CHECKPOINT}.*"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=2, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        train(args.child, args.steps, args.every)
        return 0

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        reference_folder, killed_folder = Path(scratch, "reference"), Path(scratch, "killed")
        reference_folder.mkdir()
        killed_folder.mkdir()
        begun = time.perf_counter()
        reference = _run_to_end(reference_folder, args.steps, args.every)
        run_seconds = time.perf_counter() - begun
        print(f"uninterrupted run: {args.steps} steps in {run_seconds:.1f} s (with start-up)")
        times = random.Random(args.seed)
        kills = mid_save = 0
        while kills < args.kills:
            child = _start(killed_folder, args.steps, args.every)
            line = child.stdout.readline()  # "training <step>": the model is built, the data loaded
            if not line.startswith("training"):
                child.kill()
                raise RuntimeError(f"the training process failed before training:\n{child.stderr.read()}")
            if kills % 2:
                # every other kill aims at a checkpoint write: the moment its temporary file appears
                deadline = time.perf_counter() + 3.0
                while not _temporaries(killed_folder) and time.perf_counter() < deadline and child.poll() is None:
                    time.sleep(0.0002)
            else:
                time.sleep(times.uniform(0.0, 1.5))
            if child.poll() is not None:  # it finished before the kill
                break
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            left = _temporaries(killed_folder)
            mid_save += bool(left)
            print(f"kill {kills:2d}: resumed from step {line.split()[1]:>3}, killed "
                  f"{'during a checkpoint write' if left else 'between checkpoints'}")
        final = _run_to_end(killed_folder, args.steps, args.every)
        leftovers = _temporaries(killed_folder)
    same = final == reference
    print(f"{kills} SIGKILLs, {mid_save} of them during a checkpoint write; resumed run "
          f"{'equals' if same else 'DIFFERS FROM'} the uninterrupted one bit for bit "
          f"(weights, optimizer states, history, generator state); temporary files left: {len(leftovers)}; "
          f"{time.perf_counter() - started:.0f} s")
    if not same:
        print("differing parts:", [part for part in reference if reference[part] != final[part]])
    return 0 if same and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
