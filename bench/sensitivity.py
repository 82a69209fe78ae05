"""Which models are fragile: each family's learning rate, latent size and batch size, one at a time.

    python bench/sensitivity.py [--seeds 0 1 2] [--epochs 3] [--train 10000] [--output PATH]
    python bench/sensitivity.py --smoke --output /tmp/sensitivity.json   # toy size: proves the code path

Four families, each built as in its chapter: the autoencoder (MLP, code of 32 numbers, Adam 1e-3,
batch 128), the VAE (MLP, 16 latent numbers, Adam 1e-3, batch 128, binarised images), the DCGAN
(width 32, 100 noise numbers, Adam 2e-4 with beta1 = 0.5, batch 64) and the VAE-GAN (width 32,
32 latent numbers, the DCGAN's optimizers, batch 64, gamma 1e-2). From each family's reference
setting one knob moves at a time: the learning rate divided and multiplied by 3, the latent size
halved and doubled, the batch size halved and doubled. Every setting trains for the same number of
epochs over the same images, for each seed, through `gentut.comparison.run_comparison` (so each
run is cached and a second call re-reads it), and is scored by the family's main number: the
reconstruction error of test images for the autoencoder, the Frechet distance of samples in the
book's classifier features for the others. Writes every run, a table of the mean and the spread
over seeds, and the provenance to bench/results/sensitivity.json.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from gentut.comparison import candidate, code_files, run_comparison
from gentut.data import load_book_images
from gentut.data.download import cache_dir
from gentut.metrics import format_table, load_or_train_classifier
from gentut.models import VAE, Autoencoder, MLPDecoder, MLPEncoder, VAEConfig
from gentut.models.dcgan import DCGAN_BETAS, DCGAN_LR, build_dcgan, dcgan_optimizers
from gentut.models.vaegan import build_vaegan, vaegan_optimizers
from gentut.results import fingerprint, results_path, write_results

OUTPUT = results_path("sensitivity.json")
SIZES = {
    "full": {"train": 10_000, "test": 4_000, "n_eval": 1_000, "width": 32},
    "smoke": {"train": 256, "test": 200, "n_eval": 60, "width": 8},
}
# family -> (reference learning rate, latent size, batch size), the chapters' settings
REFERENCE = {"autoencoder": (1e-3, 32, 128), "VAE": (1e-3, 16, 128), "DCGAN": (DCGAN_LR, 100, 64),
             "VAE-GAN": (DCGAN_LR, 32, 64)}
METRIC = {"autoencoder": "mse", "VAE": "fd", "DCGAN": "fd", "VAE-GAN": "fd"}


def build(family: str, lr: float, latent: int, width: int):
    """A model of `family` and its optimizers, as its chapter builds them, at these settings."""
    if family == "autoencoder":
        model = Autoencoder(MLPEncoder(latent), MLPDecoder(latent))
        return model, {"model": torch.optim.Adam(model.parameters(), lr=lr)}
    if family == "VAE":
        model = VAE(MLPEncoder(2 * latent), MLPDecoder(latent), config=VAEConfig(latent_dim=latent))
        return model, {"model": torch.optim.Adam(model.parameters(), lr=lr)}
    if family == "DCGAN":
        model = build_dcgan(latent, width=width)
        return model, dcgan_optimizers(model, lr=lr, betas=DCGAN_BETAS)
    model = build_vaegan(latent, width=width, gamma=1e-2)
    return model, vaegan_optimizers(model, lr=lr, betas=DCGAN_BETAS)


def settings(family: str) -> list[tuple[str, float, int, int]]:
    """(label, learning rate, latent size, batch size): the reference, then one knob at a time."""
    lr, latent, batch = REFERENCE[family]
    return [("reference", lr, latent, batch),
            ("lr / 3", lr / 3, latent, batch), ("lr x 3", lr * 3, latent, batch),
            ("latent / 2", lr, latent // 2, batch), ("latent x 2", lr, latent * 2, batch),
            ("batch / 2", lr, latent, batch // 2), ("batch x 2", lr, latent, batch * 2)]


def candidates_of(family: str, epochs: int, seeds: list[int], width: int):
    out = []
    with torch.random.fork_rng(devices=[]):
        for label, lr, latent, batch in settings(family):
            for seed in seeds:
                model, optimizers = build(family, lr, latent, width)
                out.append((label, candidate(f"{family}, {label}, seed {seed}", model, optimizers, epochs=epochs,
                                             batch_size=batch, seed=seed, binarized=family == "VAE")))
    return out


def sources(width: int) -> list[str]:
    files = set()
    for family in REFERENCE:
        for _, cand in candidates_of(family, 1, [0], width)[:1]:
            files |= {f"gentut/{name}" for name in code_files(cand.spec)}
    return sorted(files | {"bench/sensitivity.py", "gentut/models/classifier.py", "gentut/weights/SHA256SUMS",
                           "gentut/data/mnist.py"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training images, every run")
    parser.add_argument("--train", type=int, default=None, help="training images (default 10,000)")
    parser.add_argument("--families", nargs="+", default=list(REFERENCE), choices=list(REFERENCE))
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "synthetic-digits"])
    parser.add_argument("--cache", type=Path, default=None, help="folder of the trained models and their scores")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true", help="toy size (small data and networks, one epoch, one seed)")
    args = parser.parse_args(argv)
    size = dict(SIZES["smoke" if args.smoke else "full"])
    if args.smoke:
        args.epochs, args.seeds = 1, args.seeds[:1]
    size["train"] = args.train or size["train"]

    code = fingerprint(sources(size["width"]))
    train = load_book_images(args.dataset, "train", n=size["train"])
    test = load_book_images(args.dataset, "test", n=size["test"])
    print(train.source, flush=True)
    classifier, _ = load_or_train_classifier(train, eval_data=test, progress=False)
    cache = args.cache or cache_dir() / "comparison"
    started = time.perf_counter()
    runs, rows = [], {}
    for family in args.families:
        labelled = candidates_of(family, args.epochs, args.seeds, size["width"])
        results = run_comparison([cand for _, cand in labelled], train, test, classifier=classifier, cache=cache,
                                 n_eval=size["n_eval"], iwae_samples=2, iwae_images=20, progress=False)
        metric = METRIC[family]
        for (label, cand), result in zip(labelled, results):
            runs.append({"family": family, "setting": label, "seed": cand.seed, "metric": metric,
                         "value": result[metric], "seconds": result["seconds"], "steps": result["steps"],
                         "lr": settings_lookup(family, label)[0], "latent": settings_lookup(family, label)[1],
                         "batch_size": cand.batch_size})
        for label, *_ in settings(family):
            values = [r["value"] for r in runs if r["family"] == family and r["setting"] == label]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            rows[f"{family}, {label}"] = {"metric": "MSE" if metric == "mse" else "FD",
                                          "mean": statistics.fmean(values), "sd": spread, "n": len(values)}
        print(f"{family}: done", flush=True)
    table = format_table(
        rows, ["metric", "mean", "sd", "n"], first="family, setting", headers={"sd": "sd over seeds", "n": "seeds"},
        formats={"mean": ".4g", "sd": ".2g", "n": "d"},
        footer=f"{args.epochs} epoch{'s' * (args.epochs != 1)} on {len(train):,} {args.dataset} images for every run; "
               f"MSE of reconstructions of {size['n_eval']:,} test images (autoencoder), FD of {size['n_eval']:,} "
               f"samples against as many test images in the book's classifier features (the others); lower is better")
    elapsed = time.perf_counter() - started
    print(f"\n{table}\n\n{elapsed:.0f} s in all")
    record = {"data": train.source, "epochs": args.epochs, "train": len(train), "sizes": size,
              "reference": {k: {"lr": v[0], "latent": v[1], "batch_size": v[2]} for k, v in REFERENCE.items()},
              "runs": runs, "summary": rows, "table": table}
    command = " ".join(["python bench/sensitivity.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, record, command=command, seeds=args.seeds, seconds=elapsed, sources=code)
    print(f"results written to {path}")


def settings_lookup(family: str, label: str) -> tuple[float, int, int]:
    return next((lr, latent, batch) for name, lr, latent, batch in settings(family) if name == label)


if __name__ == "__main__":
    main()
