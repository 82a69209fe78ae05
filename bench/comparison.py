"""Every model of the book on the same images with the same budget: one table, one command.

    python bench/comparison.py [--epochs 10] [--train 20000] [--n-eval 2000] [--output PATH]
    python bench/comparison.py --smoke --output /tmp/comparison.json   # toy size: proves the code path

The ten models of `gentut.comparison.book_candidates` (autoencoder, denoising autoencoder, VAE,
beta-VAE, conditional VAE, MLP GAN, WGAN-GP, DCGAN, conditional DCGAN, VAE-GAN) train for the same
number of epochs on the same training images, through the Trainer, and are scored by
`gentut.comparison.score_model`: parameters, training seconds on this machine, reconstruction
error (models with an encoder), IWAE log-likelihood in nats and bits per dimension (the VAEs, on
binarised images), and, for the models that sample, Frechet distance, classifier score,
precision, recall and coverage of `--n-eval` samples against as many test images in the book's
classifier features, and the data-copying statistic C_T. Held-out real images scored the same
way give the ceiling row.

Each trained model and its scores are cached under a key of its spec, the data and the code it
depends on (`gentut.comparison`), in ``--cache`` (default: the data cache's ``comparison``
folder), so running the command again after changing one model retrains that model only. Writes
the rows, the table and the provenance to bench/results/comparison.json.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from gentut.applications import evaluate_applications
from gentut.comparison import book_candidates, code_files, load_trained, run_comparison
from gentut.data import load_book_images
from gentut.data.download import cache_dir
from gentut.metrics import evaluate_generator, format_table, load_or_train_classifier
from gentut.results import fingerprint, results_path, write_results

OUTPUT = results_path("comparison.json")
SIZES = {
    "full": {"train": 20_000, "test": 10_000, "n_eval": 2_000, "iwae_samples": 1_000, "iwae_images": 500,
             "width": 64, "applications": {"n": 1_000, "n_inpaint": 200, "search_steps": 200, "restarts": 4,
                                           "probe_sizes": (100, 1_000, None)}},
    "smoke": {"train": 256, "test": 200, "n_eval": 60, "iwae_samples": 4, "iwae_images": 20, "width": 8,
              "applications": {"n": 40, "n_inpaint": 8, "search_steps": 3, "restarts": 1, "probe_sizes": (100, None)}},
}
COLUMNS = ["parameters", "seconds", "mse", "log_likelihood", "bits_per_dim", "fd", "precision", "recall",
           "coverage", "copying"]
HEADERS = {"seconds": "train s", "mse": "recon. MSE", "log_likelihood": "log p(x)", "bits_per_dim": "bits/dim",
           "fd": "FD", "copying": "C_T"}
FORMATS = {"parameters": ",d", "seconds": ".0f", "mse": ".4f", "log_likelihood": ".1f", "bits_per_dim": ".3f",
           "fd": ".1f", "precision": ".2f", "recall": ".2f", "coverage": ".2f", "copying": ".1f"}


def sources(candidates) -> list[str]:
    """The files the table depends on: this script, every candidate's code, the classifier."""
    files = {f"gentut/{name}" for cand in candidates for name in code_files(cand.spec)}
    return sorted(files | {"bench/comparison.py", "gentut/applications.py", "gentut/models/classifier.py", "gentut/weights/SHA256SUMS",
                           "gentut/data/mnist.py"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="passes over the training images, for every model")
    parser.add_argument("--train", type=int, default=None, help="training images (default 20,000)")
    parser.add_argument("--n-eval", type=int, default=None, help="samples and test images per metric")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=None, help="only these rows (names as in the table)")
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "synthetic-digits"])
    parser.add_argument("--cache", type=Path, default=None, help="folder of the trained models and their scores")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true", help="toy size (small data and networks, one epoch)")
    args = parser.parse_args(argv)
    size = dict(SIZES["smoke" if args.smoke else "full"])
    if args.smoke:
        args.epochs = 1
    size["train"] = args.train or size["train"]
    size["n_eval"] = args.n_eval or size["n_eval"]

    candidates = book_candidates(args.epochs, width=size["width"], seed=args.seed, names=args.models)
    code = fingerprint(sources(candidates))  # the code as it is when the run starts
    train = load_book_images(args.dataset, "train", n=size["train"])
    test = load_book_images(args.dataset, "test", n=size["test"])
    print(train.source, flush=True)
    classifier, _ = load_or_train_classifier(train, eval_data=test, progress=False)
    n = size["n_eval"]
    # the test images the models are scored against come first; the ceiling row scores the next n
    scored, held_out = test.subset(slice(0, n)), test.subset(slice(n, 2 * n))
    cache = args.cache or cache_dir() / "comparison"
    started = time.perf_counter()
    results = run_comparison(candidates, train, scored, classifier=classifier, cache=cache, n_eval=n,
                             iwae_samples=size["iwae_samples"], iwae_images=size["iwae_images"],
                             progress=not args.smoke)
    ceiling = evaluate_generator(held_out.images, scored.images, classifier)
    rows = {"held-out real images (ceiling)": {**ceiling, "copying": None}}
    rows.update({r["name"]: r for r in results})
    table = format_table(
        rows, COLUMNS, first="model", headers=HEADERS, formats=FORMATS,
        footer=f"{args.epochs} epoch{'s' * (args.epochs != 1)} on {len(train):,} {args.dataset} images for every model (the VAEs on a "
               f"binarised copy, so their reconstruction error is on binarised test images), seed {args.seed}; {n:,} samples or reconstructions against {n:,} test images; "
               f"log p(x): IWAE with {size['iwae_samples']:,} samples on {size['iwae_images']} binarised test "
               "images, nats per image; FD in the book's classifier features (lower is better); C_T below about "
               "-3 would mean copying of the training images")
    print(f"\n{table}\n", flush=True)

    # What the models are for, measured on the same images: the trained models come back from
    # their checkpoints in the cache.
    applied = time.perf_counter()
    models = {r["name"]: load_trained(r) for r in results}
    applications = evaluate_applications(models, train, test, seed=args.seed, **size["applications"],
                                         log=lambda line: print(line, flush=True))
    applications["seconds"] = time.perf_counter() - applied
    seconds = time.perf_counter() - started
    print(f"\napplications: {applications['seconds']:.0f} s; {seconds:.0f} s in all")
    kept = [{key: value for key, value in r.items() if key != "checkpoint"} for r in results]  # no local paths
    record = {"data": train.source, "epochs": args.epochs, "train": len(train), "n_eval": n, "sizes": size,
              "table": table, "ceiling": ceiling, "runs": kept, "applications": applications}
    command = " ".join(["python bench/comparison.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, record, command=command, seeds=[args.seed], seconds=seconds, sources=code)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
