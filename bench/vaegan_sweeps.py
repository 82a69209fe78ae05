"""VAE-GAN's settings one at a time, and the VAE and the DCGAN built from the same networks, trained on
the book's images over the same seeds and budget and scored by the book's classifier metrics.

    python bench/vaegan_sweeps.py [--seeds 0 1 2] [--epochs 3] [--width 32] [--output PATH]
    python bench/vaegan_sweeps.py --smoke --output /tmp/vaegan.json   # toy size: proves the code path

Rows: the reference VAE-GAN (gamma 1e-3, the discriminator's last hidden block, the authors'
balancing, the non-saturating decoder loss, separate batch-norm batches in the discriminator);
gamma 1e-4, 1e-2 and 1e-1; the features of the first block; no balancing; the minimax decoder
loss (the authors' code); one discriminator batch for real images, reconstructions and samples;
then a Gaussian VAE with the same encoder and decoder, and a DCGAN with the same decoder and
discriminator, at the same optimizer settings, batch size and epochs.

Each run draws 2000 samples with one fixed noise seed and compares them with 2000 test images
(Frechet distance in the classifier's features, precision, recall, coverage). Models with an
encoder also reconstruct 2000 other test images: pixel mean squared error, the classifier-feature
distance between each image and its reconstruction, the Frechet distance of the reconstructions,
and the pixel ELBO at the best shared standard deviation
(`gentut.models.vaegan.gaussian_elbo_best_std`). VAE-GAN rows record how often the balancing rule
let the decoder and the discriminator update. Writes the rows, a table of mean and standard
deviation over the seeds, and the provenance to bench/results/vaegan_sweeps.json.
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
from gentut.metrics import evaluate_generator, extract_features, format_table, load_or_train_classifier
from gentut.models import VAE, VAEConfig
from gentut.models.dcgan import DCGAN_BETAS, DCGAN_LR, build_dcgan, dcgan_optimizers
from gentut.models.vaegan import build_vaegan, gaussian_elbo_best_std, vaegan_optimizers
from gentut.results import fingerprint, results_path, write_results
from gentut.trainer import Trainer

OUTPUT = results_path("vaegan_sweeps.json")
SOURCES = [
    "bench/vaegan_sweeps.py",
    "gentut/models/vaegan.py",
    "gentut/models/vae.py",
    "gentut/models/dcgan.py",
    "gentut/models/gan.py",
    "gentut/models/networks.py",
    "gentut/losses.py",
    "gentut/step.py",
    "gentut/trainer.py",
    "gentut/metrics/samples.py",
    "gentut/models/classifier.py",
    "gentut/weights/SHA256SUMS",  # the shipped feature classifier the metrics read
    "gentut/data/loader.py",
    "gentut/data/mnist.py",
]
LATENT_DIM = 32
# name -> keywords of build_vaegan (VAEGANConfig): one setting changed per row.
VARIANTS: dict[str, dict] = {
    "VAE-GAN reference": {},
    "gamma 1e-4": {"gamma": 1e-4},
    "gamma 1e-2": {"gamma": 1e-2},
    "gamma 1e-1": {"gamma": 1e-1},
    "features of block 0": {"feature_block": 0},
    "no balancing": {"margin": None},
    "minimax decoder loss": {"adversarial": "minimax"},
    "one D batch for all three": {"discriminator_batches": "joint"},
}
BASELINES = ("VAE, same networks", "DCGAN, same networks")
SIZES = {"full": {"train": 20_000, "test": 6_000, "n_metric": 2_000, "batch": 64},
         "smoke": {"train": 256, "test": 300, "n_metric": 100, "batch": 32}}
SAMPLE_METRICS = ("fd", "precision", "recall", "coverage")
RECONSTRUCTION_METRICS = ("pixel_mse", "feature_distance", "reconstruction_fd", "pixel_elbo")
RATES = ("decoder_updated", "discriminator_updated")


def build(name: str, width: int):
    """The model and its optimizers for row `name`."""
    if name in VARIANTS:
        model = build_vaegan(LATENT_DIM, width=width, **VARIANTS[name])
        return model, vaegan_optimizers(model)
    if name == "VAE, same networks":
        twin = build_vaegan(LATENT_DIM, width=width)  # the same encoder and decoder, built the same way
        model = VAE(twin.encoder, twin.decoder, config=VAEConfig(latent_dim=LATENT_DIM, likelihood="gaussian"))
        return model, {"model": torch.optim.Adam(model.parameters(), lr=DCGAN_LR, betas=DCGAN_BETAS)}
    model = build_dcgan(LATENT_DIM, width=width)
    return model, dcgan_optimizers(model)


def rate(history, name: str) -> float:
    """The share of steps on which `name` was 1, from the history's window means."""
    steps, values = history.series(name)
    lengths = [b - a for a, b in zip([0, *steps[:-1]], steps)]
    return sum(v * n for v, n in zip(values, lengths)) / sum(lengths)


def run(name: str, seed: int, train, reference, held_out, classifier, args, size: dict) -> dict:
    torch.manual_seed(seed)
    model, optimizers = build(name, args.width)
    started = time.perf_counter()
    trainer = Trainer(model, optimizers, progress=False)
    trainer.fit(train.loader(batch_size=size["batch"], seed=seed), epochs=args.epochs)
    seconds = time.perf_counter() - started
    model.eval()
    samples = model.sample(size["n_metric"], generator=torch.Generator().manual_seed(123)).cpu()
    scores = evaluate_generator(samples, reference, classifier)
    row = {"variant": name, "seed": seed, "seconds": round(seconds, 1),
           "parameters": sum(p.numel() for p in model.parameters()),
           **{k: scores[k] for k in SAMPLE_METRICS}}
    if isinstance(model, VAE):
        with torch.no_grad():
            reconstructions = model(held_out)
        distance = (extract_features(classifier, held_out) - extract_features(classifier, reconstructions)).norm(dim=1)
        row.update(pixel_mse=(reconstructions - held_out).pow(2).mean().item(),
                   feature_distance=distance.mean().item(),
                   reconstruction_fd=evaluate_generator(reconstructions, reference, classifier)["fd"],
                   pixel_elbo=gaussian_elbo_best_std(model, held_out, generator=torch.Generator().manual_seed(7))["elbo"])
    for key in RATES:
        if key in trainer.history:
            row[key] = rate(trainer.history, key)
    return row


def summary(runs: list[dict], columns: list[str]) -> dict[str, dict[str, str]]:
    """variant -> metric -> "mean ± sd" over seeds ("" where a row has no such metric)."""
    digits = {"fd": 1, "reconstruction_fd": 1, "pixel_elbo": 0, "seconds": 0, "pixel_mse": 4}
    rows: dict[str, dict[str, str]] = {}
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == name]
        rows[name] = {}
        for metric in columns:
            values = [r[metric] for r in mine if metric in r]
            if not values:
                rows[name][metric] = ""
                continue
            d = digits.get(metric, 2)
            mean = statistics.fmean(values)
            rows[name][metric] = f"{mean:.{d}f} ± {statistics.stdev(values):.{d}f}" if len(values) > 1 else f"{mean:.{d}f}"
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--width", type=int, default=32, help="channels of the networks' first / last stage")
    parser.add_argument("--variants", nargs="+", choices=[*VARIANTS, *BASELINES], default=[*VARIANTS, *BASELINES])
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
    n = size["n_metric"]
    reference, held_out = test.images[:n], test.images[n:2 * n]
    started = time.perf_counter()
    runs = []
    for name in args.variants:
        for seed in args.seeds:
            runs.append(run(name, seed, train, reference, held_out, classifier, args, size))
            print(f"{name}, seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in runs[-1].items()
                                                        if isinstance(v, float)), flush=True)
    columns = ["seconds", *SAMPLE_METRICS, *RECONSTRUCTION_METRICS, *RATES]
    table = format_table(summary(runs, columns), columns, first="variant",
                         headers={"fd": "FD", "reconstruction_fd": "recon. FD", "pixel_mse": "pixel MSE",
                                  "feature_distance": "feature dist.", "pixel_elbo": "pixel ELBO",
                                  "decoder_updated": "dec. updates", "discriminator_updated": "D updates"},
                         footer=f"{args.epochs} epochs on {len(train):,} images, batch {size['batch']}, width "
                                f"{args.width}, seeds {args.seeds}; {n} samples and {n} reconstructed test images "
                                f"against {n} other test images; FD, MSE and feature distance lower is better, "
                                "the rest higher; pixel ELBO in nats per image at the best shared std")
    seconds = time.perf_counter() - started
    print(f"\n{table}\n\n{seconds:.0f} s in all")
    results = {"data": train.source, "epochs": args.epochs, "width": args.width, "train": len(train),
               "latent_dim": LATENT_DIM, "batch": size["batch"], "table": table, "runs": runs}
    command = " ".join(["python bench/vaegan_sweeps.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    path = write_results(args.output, results, command=command, seeds=args.seeds, seconds=seconds, sources=sources)
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
