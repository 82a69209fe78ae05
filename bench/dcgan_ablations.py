"""DCGAN's guidelines one at a time: each variant breaks one rule of Radford et al. (2015) and
keeps the rest, trained on the book's images over the same seeds and scored by the book's
classifier metrics.

    python bench/dcgan_ablations.py [--seeds 0 1 2] [--epochs 5] [--width 32] [--output PATH]
    python bench/dcgan_ablations.py --smoke --output /tmp/ablations.json   # toy size: proves the code path

Variants: the reference (every guideline), pooling in the discriminator, resize-convolution in
the generator, no batch norm, batch norm also at the image side, ReLU in the discriminator,
PyTorch's default initialisation, learning rate 1e-3, Adam's beta1 0.9. Each run draws 2000
samples with one fixed noise seed and compares them with 2000 held-out test images: Frechet
distance in the classifier's features, precision, recall, coverage, and the share of the rarest
class among the samples as the classifier labels them (times the number of classes: 1 means as
often as the rest, 0 that a class is missing), and the checkerboard energy of the samples
(`gentut.metrics.checkerboard_energy`; about 0.0008 for real Fashion-MNIST test images).
Writes the rows, a table of mean and standard deviation over the seeds, and the provenance to
bench/results/dcgan_ablations.json.
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from gentut.data import load_book_images
from gentut.metrics import checkerboard_energy, evaluate_generator, format_table, load_or_train_classifier
from gentut.metrics.samples import class_probabilities
from gentut.models.dcgan import DCGAN_BETAS, DCGAN_LR, build_dcgan, dcgan_optimizers
from gentut.results import fingerprint, results_path, write_results
from gentut.trainer import Trainer

OUTPUT = results_path("dcgan_ablations.json")
SOURCES = [
    "bench/dcgan_ablations.py",
    "gentut/models/dcgan.py",
    "gentut/models/gan.py",
    "gentut/models/networks.py",
    "gentut/losses.py",
    "gentut/step.py",
    "gentut/trainer.py",
    "gentut/metrics/samples.py",
    "gentut/metrics/artifacts.py",
    "gentut/models/classifier.py",
    "gentut/weights/SHA256SUMS",  # the shipped feature classifier the metrics read
    "gentut/data/loader.py",
    "gentut/data/mnist.py",
]
# name -> (keywords of build_dcgan, keywords of dcgan_optimizers): one guideline broken per row.
VARIANTS: dict[str, tuple[dict, dict]] = {
    "reference (all guidelines)": ({}, {}),
    "pooling in D": ({"downsample": "pool"}, {}),
    "resize-convolution in G": ({"upsample": "resize"}, {}),
    "no batch norm": ({"norm": "none"}, {}),
    "batch norm at the image side": ({"norm_image_side": True}, {}),
    "ReLU in D": ({"activation": "relu"}, {}),
    "PyTorch's default init": ({"init": "default"}, {}),
    "lr 1e-3": ({}, {"lr": 1e-3}),
    "beta1 0.9": ({}, {"betas": (0.9, DCGAN_BETAS[1])}),
}
SIZES = {"full": {"train": 20_000, "test": 4_000, "n_metric": 2_000, "batch": 64},
         "smoke": {"train": 256, "test": 200, "n_metric": 100, "batch": 32}}
METRICS = ("fd", "precision", "recall", "coverage", "rarest_class", "checkerboard")


def rarest_class_share(samples: torch.Tensor, classifier, num_classes: int) -> float:
    """The rarest predicted class's share of the samples, times the number of classes."""
    predicted = class_probabilities(classifier, samples).argmax(dim=1)
    counts = torch.bincount(predicted, minlength=num_classes).float()
    return (counts.min() / counts.sum() * num_classes).item()


def run(name: str, seed: int, train, reference, classifier, args, size: dict) -> dict:
    build, optimizer = VARIANTS[name]
    torch.manual_seed(seed)
    gan = build_dcgan(width=args.width, **build)
    optimizers = dcgan_optimizers(gan, **{"lr": DCGAN_LR, "betas": DCGAN_BETAS, **optimizer})
    started = time.perf_counter()
    trainer = Trainer(gan, optimizers, progress=False)
    trainer.fit(train.loader(batch_size=size["batch"], seed=seed), epochs=args.epochs)
    seconds = time.perf_counter() - started
    samples = gan.sample(size["n_metric"], generator=torch.Generator().manual_seed(123)).cpu()
    scores = evaluate_generator(samples, reference, classifier)
    d_loss = trainer.history.series("d_loss")[1]
    return {"variant": name, "seed": seed, "seconds": round(seconds, 1),
            **{k: scores[k] for k in ("fd", "precision", "recall", "coverage")},
            "rarest_class": rarest_class_share(samples, classifier, len(train.class_names or range(10))),
            "checkerboard": checkerboard_energy(samples).mean().item(),
            # The discriminator's loss at the end: near 0 means D won and G's gradient faded.
            "final_d_loss": statistics.fmean(d_loss[-max(1, len(d_loss) // 10):])}


def summary(runs: list[dict]) -> dict[str, dict[str, str]]:
    """variant -> metric -> "mean ± sd" over seeds (just the value for one seed)."""
    rows: dict[str, dict[str, str]] = {}
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == name]
        rows[name] = {}
        for metric in (*METRICS, "final_d_loss"):
            values = [r[metric] for r in mine]
            mean, digits = statistics.fmean(values), 4 if metric == "checkerboard" else 3
            rows[name][metric] = (f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}" if len(values) > 1
                                  else f"{mean:.{digits}f}")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--width", type=int, default=32, help="channels of the first D / last G stage")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "synthetic-digits"])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the results (JSON)")
    parser.add_argument("--smoke", action="store_true", help="toy size (width 4, one epoch), to check the code runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.width = 1, 4

    sources = fingerprint(SOURCES)  # the code as it is when the run starts
    size = SIZES["smoke" if args.smoke else "full"]
    train = load_book_images(args.dataset, "train", n=size["train"])
    test = load_book_images(args.dataset, "test", n=size["test"])
    print(train.source, flush=True)
    classifier, _ = load_or_train_classifier(train, eval_data=test, progress=False)
    reference = test.images[: size["n_metric"]]
    started = time.perf_counter()
    runs = []
    for name in args.variants:
        for seed in args.seeds:
            runs.append(run(name, seed, train, reference, classifier, args, size))
            print(f"{name}, seed {seed}: " + ", ".join(f"{k} {runs[-1][k]:.3f}" for k in METRICS)
                  + f" ({runs[-1]['seconds']:.0f} s)", flush=True)
    table = format_table(summary(runs), [*METRICS, "final_d_loss"], first="variant",
                         headers={"fd": "FD", "rarest_class": "rarest class", "final_d_loss": "D loss at end"},
                         footer=f"{args.epochs} epochs on {len(train):,} images, width {args.width}, seeds "
                                f"{args.seeds}; {size['n_metric']} samples against {size['n_metric']} test images; "
                                "FD lower is better, the rest higher")
    seconds = time.perf_counter() - started
    print(f"\n{table}\n\n{seconds:.0f} s in all")
    results = {"data": train.source, "epochs": args.epochs, "width": args.width, "train": len(train),
               "table": table, "runs": runs}
    command = " ".join(["python bench/dcgan_ablations.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, results, command=command, seeds=args.seeds, seconds=seconds, sources=sources)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
