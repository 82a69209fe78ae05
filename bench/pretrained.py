"""The book's trained models, made by the chapters themselves and shipped with the package.

    python bench/pretrained.py                      # every chapter in CHAPTERS: cpu profile, Fashion-MNIST
    python bench/pretrained.py --smoke --weights /tmp/w --output /tmp/pretrained.json   # toy size (CI)

Each chapter listed in CHAPTERS runs top to bottom on a fresh kernel (a copy: the chapter's file is
not touched) with GENTUT_PRETRAINED_OUT set, so that `gentut.pretrained.offer` saves each model the
chapter trains in its "load the shipped model, else train it" cell, with its history, the records
its hooks kept, its settings and its training time. (While this variable is set, nothing loads:
the chapter trains.)

Then, for each model, what half precision changes: the Fréchet distance (the chapters' main
number) of the same N_SAMPLES samples, drawn with the same noise, from the weights as trained and
rounded to float16, against the chapter's test images, in the book's classifier's features. Half
precision is kept when the FD moves by less than HALF_TOLERANCE of its value (0.05 on an FD of 50,
half the last digit the chapters print); otherwise the file stays float32. The file goes to
gentut/weights/<name>.pt, its SHA-256 to gentut/weights/MODELS.SHA256SUMS, and its size, load time (median
of five loads, SHA-256 check and rebuild included), both FDs and the SHA-256 of the chapter's
training cell to bench/results/pretrained.json. tests/test_pretrained.py fails when that cell or
the package code the models came from has changed since.

After it, re-run the chapters (`make execute`): they load these files instead of training, and
their stored outputs come from the shipped weights.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gentut import pretrained  # noqa: E402
from gentut.checkpoint import load_checkpoint  # noqa: E402
from gentut.data import load_book_images  # noqa: E402
from gentut.history import History  # noqa: E402
from gentut.metrics import evaluate_generator, load_or_train_classifier  # noqa: E402
from gentut.models.sampling import evaluation_mode  # noqa: E402
from gentut.notebooks import environment  # noqa: E402
from gentut.results import fingerprint, results_path, write_results  # noqa: E402
from gentut.spec import load_model  # noqa: E402

OUTPUT = results_path("pretrained.json")
# chapter -> the models its cells offer (their names in gentut/weights)
CHAPTERS = {
    "book/gan/gan.ipynb": ["gan-mlp"],
    "book/dcgan/dcgan.ipynb": ["dcgan", "dcgan-conditional"],
    "book/vaegan/vaegan.ipynb": ["vaegan"],
}
N_SAMPLES = 2_000  # the chapters' n_metric in the cpu profile
# Where each chapter prints the FD that `sample_fd` measures (its metrics table): row label, decimals.
CHAPTER_ROWS = {"gan-mlp": ("MLP GAN", 3), "dcgan": ("DCGAN", 3), "dcgan-conditional": ("conditional DCGAN", 3), "vaegan": ("VAE-GAN", 1)}
HALF_TOLERANCE = 1e-3
# The package code a shipped model depends on: when one of these changes, the files are re-made.
SOURCES = [
    "bench/pretrained.py", "gentut/pretrained.py", "gentut/spec.py", "gentut/checkpoint.py",
    "gentut/models/networks.py", "gentut/models/gan.py", "gentut/models/dcgan.py", "gentut/models/vae.py",
    "gentut/models/vaegan.py", "gentut/trainer.py", "gentut/step.py", "gentut/losses.py", "gentut/hooks.py",
    "gentut/data/loader.py", "gentut/data/images.py",
]


def training_cells(chapter: str | Path, name: str) -> str:
    """The sources of the chapter's code cells that train `name`: the cell that calls
    ``pretrained.offer`` and every cell that names the model ("dcgan"), joined."""
    cells = [cell for cell in json.loads(Path(chapter).read_text())["cells"] if cell["cell_type"] == "code"]
    found = ["".join(cell["source"]) for cell in cells
             if "pretrained.offer(" in "".join(cell["source"]) or f'"{name}"' in "".join(cell["source"])]
    if not any(f'"{name}"' in source for source in found):
        raise ValueError(f"{chapter}: no code cell names the model \"{name}\" (pretrained.load / offer)")
    return "\n".join(found)


def cell_sha256(chapter: str | Path, name: str) -> str:
    return hashlib.sha256(training_cells(chapter, name).encode()).hexdigest()


def run_chapter(chapter: str, out: Path, profile: str, dataset: str) -> float:
    """Execute a copy of `chapter` in its own folder with the models offered into `out`; seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / chapter, as_version=4)
    # the kernel inherits this process's environment
    with environment(**{pretrained.OUT_ENV: str(out), "GENTUT_PROFILE": profile, "GENTUT_DATASET": dataset}):
        start = time.perf_counter()
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str((ROOT / chapter).parent)}}).execute()
        return time.perf_counter() - start


def sample_fd(model: torch.nn.Module, settings: dict, *, half: bool, n: int) -> float:
    """FD of `n` samples of `model`, its weights rounded to float16 if `half`, against the first
    `n` test images of the data it was trained on: the chapters' protocol (noise seed 123; a
    conditional GAN asked for every class in turn)."""
    if half:
        with torch.no_grad():
            for value in model.state_dict().values():
                if value.is_floating_point():
                    value.copy_(value.half().to(value.dtype))
    train = load_book_images(settings["data"], "train", n=settings["images"])
    test = load_book_images(settings["data"], "test", n=2 * n)
    classifier, _ = load_or_train_classifier(train, eval_data=test)
    classes = getattr(getattr(model, "config", None), "num_classes", None)
    labels = {"labels": torch.arange(n) % classes} if classes else {}
    with evaluation_mode(model):
        samples = model.sample(n, generator=torch.Generator().manual_seed(123), **labels).cpu()
    return evaluate_generator(samples, test.images[:n], classifier)["fd"]


def load_seconds(name: str, settings: dict, directory: Path, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        trained = pretrained.load(name, settings, directory=directory)
        if trained is None:
            raise RuntimeError(f"{name} did not load back from {directory}")
        times.append(trained.load_seconds)
    return statistics.median(times)


def store(name: str, offered: Path, weights: Path, n: int) -> dict:
    """Decide float16 or float32 for the model offered at `offered`, write it to `weights`, list its
    SHA-256; what was measured, as a dict for the results file."""
    state = load_checkpoint(offered)
    settings = dict(state["settings"])
    full = sample_fd(load_model(offered), settings, half=False, n=n)
    half = sample_fd(load_model(offered), settings, half=True, n=n)
    change = abs(half - full) / max(abs(full), 1e-12)
    use_half = change < HALF_TOLERANCE
    history = History()
    history.load_state_dict(state["history"])
    model, records = load_model(offered), state.get("records", {})
    with tempfile.TemporaryDirectory() as tmp:
        full_size = pretrained.write_model(Path(tmp) / "full.pt", model, history, settings, state["seconds"],
                                           records=records).stat().st_size
    target = pretrained.write_model(pretrained.shipped_path(name, weights), model, history, settings,
                                    state["seconds"], records=records, half=use_half)
    list_sum(weights, target)
    return {
        "settings": settings, "training_seconds": round(state["seconds"], 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "fd_float32": full, "fd_float16": half, "relative_change": change,
        "precision": "float16" if use_half else "float32",
        "bytes": target.stat().st_size, "bytes_float32": full_size,
        "load_seconds": round(load_seconds(name, settings, weights), 3),
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
    }


def list_sum(weights: Path, path: Path) -> None:
    """Add or replace `path`'s line in MODELS.SHA256SUMS (sha256sum's format), keeping the others."""
    sums = weights / pretrained.SUMS
    lines = [line for line in (sums.read_text().splitlines() if sums.is_file() else [])
             if line.strip() and not line.endswith(f"  {path.name}")]
    lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}")
    sums.write_text("\n".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])) + "\n")


def relist(record: dict, weights: Path, n: int) -> dict:
    """Check the shipped files of `record` under the code as it is now, without training: each
    loads through `pretrained.load` (SHA-256 listed again), its FD measured again must equal the
    one recorded when it was made, and its load time is measured again. For a change that leaves
    the files as they were (where the list of SHA-256s lives, say)."""
    results = {}
    for name, made in record["results"].items():
        target = pretrained.shipped_path(name, weights)
        list_sum(weights, target)
        model = pretrained.load(name, made["settings"], directory=weights).model
        fd = sample_fd(model, made["settings"], half=False, n=n)
        if abs(fd - made[f"fd_{made['precision']}"]) > 1e-6 * abs(fd):
            raise RuntimeError(f"{name}: FD {fd} now, {made[f'fd_' + made['precision']]} when it was made")
        results[name] = {**made, "load_seconds": round(load_seconds(name, made["settings"], weights), 3),
                         "sha256": hashlib.sha256(target.read_bytes()).hexdigest()}
        print(f"{name}: FD {fd:.3f} as when it was made; loads in {results[name]['load_seconds']:.3f} s", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the smoke profile on the synthetic digits (CI)")
    parser.add_argument("--chapters", nargs="+", choices=list(CHAPTERS), default=list(CHAPTERS))
    parser.add_argument("--weights", type=Path, default=pretrained.WEIGHTS_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--relist", action="store_true",
                        help="train nothing: check the shipped files of --output under the current code and list them again")
    args = parser.parse_args(argv)
    if args.relist:
        from gentut.results import read_results

        start, code = time.perf_counter(), fingerprint(SOURCES)
        results = relist(read_results(args.output), args.weights, N_SAMPLES)
        write_results(args.output, results, command="python bench/pretrained.py --relist", seeds=[0],
                      seconds=time.perf_counter() - start, sources=code)
        print(f"wrote {args.output}")
        return
    profile, dataset = ("smoke", "synthetic-digits") if args.smoke else ("cpu", "fashion-mnist")
    n = 200 if args.smoke else N_SAMPLES
    code = fingerprint(SOURCES)  # taken before the runs: an edit during them shows as stale
    start = time.perf_counter()
    previous = {}
    if args.output.is_file() and set(args.chapters) != set(CHAPTERS):
        from gentut.results import read_results

        previous = read_results(args.output)["results"]  # the chapters not re-run keep their entries
    results = dict(previous)
    with tempfile.TemporaryDirectory() as tmp:
        for chapter in args.chapters:
            cells = {name: cell_sha256(ROOT / chapter, name) for name in CHAPTERS[chapter]}
            seconds = run_chapter(chapter, Path(tmp), profile, dataset)
            print(f"{chapter}: ran in {seconds:.0f} s ({profile} profile, {dataset})", flush=True)
            for name in CHAPTERS[chapter]:
                offered = Path(tmp) / f"{name}.pt"
                if not offered.is_file():
                    raise RuntimeError(f"{chapter} ran but offered no {name}: does its cell call pretrained.offer?")
                r = results[name] = {"chapter": chapter, "cell_sha256": cells[name],
                                     **store(name, offered, args.weights, n)}
                print(f"{name}: {r['precision']}, {r['bytes'] / 1e6:.2f} MB ({r['bytes_float32'] / 1e6:.2f} MB in "
                      f"float32), loads in {r['load_seconds']:.3f} s; FD {r['fd_float32']:.3f} in float32, "
                      f"{r['fd_float16']:.3f} in float16; trained in {r['training_seconds']:.0f} s", flush=True)
    command = "python bench/pretrained.py" + (" --smoke" if args.smoke else "")
    if set(args.chapters) != set(CHAPTERS):  # the other chapters' entries come from an earlier run
        command += " --chapters " + " ".join(args.chapters)
    write_results(args.output, results, command=command, seeds=[0], seconds=time.perf_counter() - start,
                  sources=code)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
