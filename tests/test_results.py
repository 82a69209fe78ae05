"""Results files of long runs: provenance written, read back, stale sources named; the lab's
benchmark runs at toy size; and the committed results the GAN chapter quotes match the code."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gentut.results import ResultsError, fingerprint, provenance, read_results, stale_sources, write_results

ROOT = Path(__file__).resolve().parent.parent


def test_a_results_file_records_its_provenance_and_names_changed_sources(tmp_path):
    (tmp_path / "code.py").write_text("x = 1\n")
    path = write_results(tmp_path / "out" / "r.json", {"table": "a b"}, command="python run.py --seeds 0",
                         seeds=[0], seconds=12.34, sources=["code.py"], root=tmp_path)
    record = read_results(path)
    assert record["command"] == "python run.py --seeds 0" and record["seeds"] == [0] and record["seconds"] == 12.3
    assert record["results"] == {"table": "a b"} and set(record) >= {"gentut", "commit", "date", "sources"}
    assert stale_sources(record, root=tmp_path) == []
    (tmp_path / "code.py").write_text("x = 2\n")
    assert stale_sources(record, root=tmp_path) == ["code.py"]
    (tmp_path / "code.py").unlink()
    assert stale_sources(record, root=tmp_path) == ["code.py"]
    # hashes taken when a run started are stored as given: an edit during the run shows as stale
    (tmp_path / "code.py").write_text("x = 1\n")
    early = fingerprint(["code.py"], root=tmp_path)
    (tmp_path / "code.py").write_text("x = 3\n")
    path = write_results(tmp_path / "r2.json", {}, command="c", seeds=[], seconds=0, sources=early, root=tmp_path)
    assert stale_sources(read_results(path), root=tmp_path) == ["code.py"]


def test_missing_or_foreign_files_get_clear_errors(tmp_path):
    with pytest.raises(ResultsError, match="no results file at"):
        read_results(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResultsError, match="not a readable results file"):
        read_results(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ResultsError, match="not a results file of format 1"):
        read_results(tmp_path / "other.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fingerprint(["nope.py"], root=tmp_path)


def test_the_lab_benchmark_runs_at_toy_size_and_writes_its_results(tmp_path):
    out = tmp_path / "lab.json"
    result = subprocess.run(
        [sys.executable, "bench/gan_toy_lab.py", "--smoke", "--seeds", "0", "--data", "ring", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    record = read_results(out)
    assert record["command"].startswith("python bench/gan_toy_lab.py --smoke")
    ring = record["results"]["ring"]
    assert ring["steps"] == 40 and len(ring["runs"]) == 5 and "GAN + packing (m = 2)" in ring["table"]


def _committed_and_fresh(name: str) -> dict:
    """The committed results file bench/results/`name`, asserted not older than its sources."""
    record = read_results(ROOT / "bench" / "results" / name)
    stale = stale_sources(record, root=ROOT)
    assert not stale, (
        f"bench/results/{name} is older than {', '.join(stale)}; re-run `{record['command']}` "
        f"(about {record['seconds'] / 60:.0f} minutes) and commit the file"
    )
    assert "--smoke" not in record["command"]
    return record


def test_the_committed_lab_results_come_from_the_current_code():
    record = _committed_and_fresh("gan_toy_lab.json")
    assert record["seeds"] == [0, 1, 2, 3, 4]


def test_the_baselines_benchmark_runs_at_toy_size_and_writes_its_results(tmp_path):
    out = tmp_path / "baselines.json"
    result = subprocess.run(
        [sys.executable, "bench/baselines.py", "--smoke", "--dataset", "synthetic-digits", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "GENTUT_DATA": str(tmp_path / "data")},  # a fresh classifier cache
    )
    assert result.returncode == 0, result.stderr
    record = read_results(out)
    vae, gan = record["results"]["vae"]["rows"], record["results"]["gan"]["rows"]
    assert set(vae) == {"chapter: 512-256, d = 16", "pytorch/examples: 400, d = 20"}
    assert all(row["iwae"] >= row["elbo"] - 1.0 for row in vae.values())  # the IWAE bound is the tighter one
    assert "real (held out)" in gan and all("fd" in row for row in gan.values())


def test_the_committed_baseline_results_come_from_the_current_code():
    record = _committed_and_fresh("baselines.json")
    assert record["results"]["data"].startswith("Fashion-MNIST")


def test_the_lab_exercise_benchmark_runs_at_toy_size_and_writes_its_results(tmp_path):
    out = tmp_path / "exercise.json"
    result = subprocess.run(
        [sys.executable, "bench/gan_lab_exercise.py", "--smoke", "--seeds", "0", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    parts = read_results(out)["results"]
    assert [parts[p]["steps"] for p in "abc"] == [40, 40, 80]  # (c) twice the budget
    assert "SN + hinge" in parts["a"]["table"] and "packing (m = 4)" in parts["b"]["table"]
    assert all(len(parts[p]["runs"]) == 1 for p in "abc")


def test_the_committed_lab_exercise_results_come_from_the_current_code():
    record = _committed_and_fresh("gan_lab_exercise.json")
    assert record["seeds"] == [0, 1, 2, 3, 4]
    assert record["results"]["c"]["steps"] == 2 * record["results"]["a"]["steps"] == 40_000


def test_provenance_names_the_command_version_commit_date_and_seconds():
    record = {"command": "python bench/x.py", "gentut": "0.1.0", "commit": "0123456789abcdef", "date": "2026-12-03",
              "seconds": 61.7}
    assert provenance(record) == "$ python bench/x.py\n  gentut 0.1.0, commit 0123456789, 2026-12-03, 62 s in all"
    assert "commit unknown" in provenance({**record, "commit": None})


def _run_at_toy_size(tmp_path: Path, script: str, variants: list[str]) -> dict:
    """Run a bench script with --smoke on the synthetic digits for seeds 0 and 1; its record."""
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, script, "--smoke", "--dataset", "synthetic-digits", "--seeds", "0", "1",
         "--variants", *variants, "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "GENTUT_DATA": str(tmp_path / "data")},  # a fresh classifier cache
    )
    assert result.returncode == 0, result.stderr
    return read_results(out)


def test_the_dcgan_ablations_run_at_toy_size_and_write_one_row_per_variant_and_seed(tmp_path):
    variants = ["reference (all guidelines)", "pooling in D", "lr 1e-3"]
    record = _run_at_toy_size(tmp_path, "bench/dcgan_ablations.py", variants)
    runs = record["results"]["runs"]
    assert [(r["variant"], r["seed"]) for r in runs] == [(v, s) for v in variants for s in (0, 1)]
    assert all(0 <= r["rarest_class"] <= 10 and r["fd"] >= 0 and 0 <= r["checkerboard"] <= 1 for r in runs)
    assert all(v in record["results"]["table"] for v in variants) and "±" in record["results"]["table"]
    assert record["seeds"] == [0, 1] and "bench/dcgan_ablations.py" in record["sources"]


def test_the_committed_dcgan_ablations_come_from_the_current_code():
    record = _committed_and_fresh("dcgan_ablations.json")
    assert record["seeds"] == [0, 1, 2] and record["results"]["data"].startswith("Fashion-MNIST")
    runs = record["results"]["runs"]
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    assert len(variants) == 9 and len(runs) == 27  # the reference and eight ablations, three seeds each


def test_the_vaegan_sweep_runs_at_toy_size_and_writes_one_row_per_variant_and_seed(tmp_path):
    variants = ["VAE-GAN reference", "no balancing", "VAE, same networks", "DCGAN, same networks"]
    record = _run_at_toy_size(tmp_path, "bench/vaegan_sweeps.py", variants)
    runs = record["results"]["runs"]
    assert [(r["variant"], r["seed"]) for r in runs] == [(v, s) for v in variants for s in (0, 1)]
    by_name = {r["variant"]: r for r in runs}
    # reconstructions for the models with an encoder, update rates for the VAE-GANs only
    assert "pixel_elbo" in by_name["VAE, same networks"] and "pixel_elbo" not in by_name["DCGAN, same networks"]
    assert 0 <= by_name["VAE-GAN reference"]["discriminator_updated"] <= 1
    assert by_name["no balancing"]["decoder_updated"] == by_name["no balancing"]["discriminator_updated"] == 1
    assert all(v in record["results"]["table"] for v in variants) and "±" in record["results"]["table"]
    assert "gentut/models/vaegan.py" in record["sources"]



def test_the_committed_vaegan_sweep_comes_from_the_current_code():
    record = _committed_and_fresh("vaegan_sweeps.json")
    assert record["seeds"] == [0, 1, 2] and record["results"]["data"].startswith("Fashion-MNIST")
    runs = record["results"]["runs"]
    assert len(dict.fromkeys(r["variant"] for r in runs)) == 10 and len(runs) == 30


def test_the_comparison_runs_at_toy_size_and_a_second_run_reads_every_model_from_its_cache(tmp_path):
    def run(output):
        result = subprocess.run(
            [sys.executable, "bench/comparison.py", "--smoke", "--dataset", "synthetic-digits", "--models", "VAE",
             "DCGAN", "VAE-GAN", "--cache", str(tmp_path / "cache"), "--output", str(output)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "GENTUT_DATA": str(tmp_path / "data")},  # a fresh classifier cache
        )
        assert result.returncode == 0, result.stderr
        return result.stdout, read_results(output)

    out, record = run(tmp_path / "first.json")
    runs = record["results"]["runs"]
    assert [r["name"] for r in runs] == ["VAE", "DCGAN", "VAE-GAN"] and not any(r["from_cache"] for r in runs)
    assert "held-out real images (ceiling)" in record["results"]["table"]
    assert "gentut/models/vaegan.py" in record["sources"] and "bench/comparison.py" in record["sources"]
    assert not any("checkpoint" in r for r in runs)  # no local paths in a committed file
    out, again = run(tmp_path / "second.json")
    assert out.count("read from") == 3 and "steps in" not in out  # "<name>: trained N steps in S s"
    assert [r["fd"] for r in again["results"]["runs"]] == [r["fd"] for r in runs]
    applications = record["results"]["applications"]
    assert applications["models"] == ["VAE", "DCGAN", "VAE-GAN"]
    assert list(applications["compression"]["models"]) == ["VAE", "VAE-GAN"]  # the DCGAN has no encoder
    assert set(applications["inpainting"]["mse"]) >= {"VAE", "DCGAN", "VAE-GAN", "mean image"}
    assert again["results"]["applications"]["inpainting"]["mse"] == applications["inpainting"]["mse"]


def _bench(script, tmp_path, *extra):
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--smoke", "--dataset", "synthetic-digits", *extra,
         "--cache", str(tmp_path / "cache"), "--output", str(tmp_path / "out.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "GENTUT_DATA": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, read_results(tmp_path / "out.json")


def test_the_anomaly_bench_runs_at_toy_size_with_one_detector_of_each_kind_per_held_out_class(tmp_path):
    out, record = _bench("anomaly.py", tmp_path, "--classes", "3", "7")
    auc = record["results"]["auc"]
    assert list(auc) == ["3", "7", "mean"]  # the synthetic digits' class names
    for row in auc.values():
        assert set(row) == {"autoencoder", "vae", "dcgan", "ink", "floor", "autoencoder_excess", "vae_excess"}
        assert all(0.0 <= v <= 1.0 for v in row.values())
    assert auc["mean"]["ink"] == pytest.approx((auc["3"]["ink"] + auc["7"]["ink"]) / 2)
    assert {"gentut/models/gan.py", "gentut/models/networks.py", "bench/anomaly.py"} <= set(record["sources"])


def test_the_sensitivity_bench_moves_one_knob_at_a_time_for_each_family(tmp_path):
    out, record = _bench("sensitivity.py", tmp_path, "--families", "autoencoder", "DCGAN")
    runs = record["results"]["runs"]
    assert [r["setting"] for r in runs if r["family"] == "DCGAN"] == [
        "reference", "lr / 3", "lr x 3", "latent / 2", "latent x 2", "batch / 2", "batch x 2"]
    by = {(r["family"], r["setting"]): r for r in runs}
    assert by["DCGAN", "lr x 3"]["lr"] == pytest.approx(3 * by["DCGAN", "reference"]["lr"])
    assert by["autoencoder", "latent / 2"]["latent"] == 16 and by["autoencoder", "batch x 2"]["batch_size"] == 256
    assert by["autoencoder", "reference"]["metric"] == "mse" and by["DCGAN", "reference"]["metric"] == "fd"
    # half the batch size: twice the steps for the same number of epochs
    assert by["DCGAN", "batch / 2"]["steps"] in (2 * by["DCGAN", "reference"]["steps"],
                                                 2 * by["DCGAN", "reference"]["steps"] - 1)


def test_the_scaling_bench_times_one_and_two_processes_and_records_them(tmp_path):
    result = subprocess.run([sys.executable, "bench/distributed_scaling.py", "--smoke", "--models", "vae",
                             "--output", str(tmp_path / "scaling.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    row = read_results(tmp_path / "scaling.json")["results"]["rows"]["vae"]
    assert len(row["seconds_1"]) == len(row["seconds_2"]) == 1 and min(row["seconds_1"] + row["seconds_2"]) > 0
    assert row["efficiency"] == pytest.approx(row["images_per_second_2"] / (2 * row["images_per_second_1"]))


def test_the_committed_comparison_comes_from_the_current_code():
    record = _committed_and_fresh("comparison.json")
    runs = record["results"]["runs"]
    assert len(runs) == 10 and record["results"]["data"].startswith("Fashion-MNIST")
    assert record["results"]["applications"]["representation"]["n_train"] == record["results"]["train"]


def test_the_committed_anomaly_results_come_from_the_current_code():
    auc = _committed_and_fresh("anomaly.json")["results"]["auc"]
    assert len(auc) == 11 and "autoencoder_excess" in auc["mean"]  # ten held-out classes and their mean


def test_the_committed_sensitivity_sweep_comes_from_the_current_code():
    record = _committed_and_fresh("sensitivity.json")
    assert record["seeds"] == [0, 1, 2] and len(record["results"]["runs"]) == 4 * 7 * 3


def test_the_committed_scaling_results_come_from_the_current_code():
    rows = _committed_and_fresh("distributed_scaling.json")["results"]["rows"]
    assert set(rows) == {"vae", "dcgan"}


def test_the_speed_suite_runs_every_family_three_ways_at_toy_size(tmp_path):
    result = subprocess.run([sys.executable, "bench/speed.py", "--smoke", "--output", str(tmp_path / "speed.json")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    record = read_results(tmp_path / "speed.json")["results"]
    assert set(record["families"]) == {"autoencoder", "vae", "gan-2d", "gan", "dcgan", "vaegan"}
    for family, row in record["families"].items():
        tried = {f"Trainer + {option}" for option in ("foreach Adam", "fused Adam", "channels_last")}
        if family not in ("dcgan", "vaegan"):
            tried.discard("Trainer + channels_last")  # no convolutions
            assert row["skipped"]["channels_last"] == "no convolutions"
        if "autocast" not in row["skipped"]:  # a CPU with bf16 units tries it
            tried.add("Trainer + autocast")
            assert row["autocast"] == "bfloat16"
        else:
            assert row["skipped"]["autocast"] == "no bf16 units on this CPU" and row["autocast"] is None
        assert set(row["images_per_second"]) == {"Trainer", "plain", "DataLoader"} | tried, family
        assert min(row["images_per_second"].values()) > 0 and row["flops_per_step"] > 0, family
        assert "compile" not in row["first_two_steps_seconds"]  # the smoke run leaves compiling out
    peaks = record["machine"]["peak_flop_per_second"]
    assert peaks["fp32"] > 0 and peaks["bf16"] > 0
    assert "T/plain" in result.stdout and "bf16 units:" in result.stdout
    # every option tried gets a verdict, kept or dropped, and the defaults are named
    assert set(record["verdicts"]) == {"foreach Adam", "fused Adam", "channels_last", "autocast"}
    assert all(v.startswith(("gains", "dropped", "kept", "not tried")) for v in record["verdicts"].values())
    assert "on by default in gentut:" in result.stdout


def test_the_speed_suite_says_clearly_when_the_gpu_asked_for_is_missing(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = subprocess.run([sys.executable, "bench/speed.py", "--smoke", "--device", "cuda", "--output",
                             str(tmp_path / "speed.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "no CUDA device" in result.stderr
    assert not (tmp_path / "speed.json").exists()


def test_the_committed_speed_table_comes_from_the_current_code():
    record = _committed_and_fresh("speed.json")
    families = record["results"]["families"]
    assert set(families) == {"autoencoder", "vae", "gan-2d", "gan", "dcgan", "vaegan"}
    # Same arithmetic three ways: the step's FLOPs are the model's, whichever loop runs it.
    assert all(row["flops_per_step"] > 0 and row["repeats"] >= 3 for row in families.values())


def test_the_lab_ensemble_benchmark_runs_at_toy_size(tmp_path):
    out = tmp_path / "lab_ensemble.json"
    result = subprocess.run(
        [sys.executable, "bench/lab_ensemble.py", "--smoke", "--seeds", "0", "1", "--data", "ring", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    results = read_results(out)["results"]
    assert set(results["speed"]["variants"]) == {"GAN, fast discriminator", "GAN", "GAN + packing (m = 2)",
                                                 "GAN + spectral norm", "WGAN-GP"}
    ring = results["agreement"]["ring"]
    assert ring["steps"] == 20 and all(len(modes) == 2 for modes in ring["per_seed"].values())


def test_the_lab_as_ensembles_is_faster_and_reaches_what_separate_runs_reach():
    """The committed measurement: each variant's five seeds trained as one ensemble against five
    separate runs; the modes covered and the high-quality share over seeds agree with the
    separate runs of bench/results/gan_toy_lab.json (Welch's t within 3 for every variant)."""
    record = _committed_and_fresh("lab_ensemble.json")
    for name, timing in record["results"]["speed"]["variants"].items():
        assert timing["speedup"] > 1.0, (name, timing)
    for data, agreement in record["results"]["agreement"].items():
        assert agreement["steps"] == agreement["stored_steps"], data
        for variant, row in agreement["variants"].items():
            for key in ("modes", "quality"):
                t = row[f"{key}_t"]
                assert t is not None and abs(t) < 3, (data, variant, key, row)


def test_the_lab_seeds_check_trains_one_variant_both_ways_at_toy_size(tmp_path):
    out = tmp_path / "seeds.json"
    result = subprocess.run([sys.executable, "bench/lab_ensemble_seeds.py", "--smoke", "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    record = read_results(out)["results"]
    assert set(record["per_seed"]) == {"separate", "ensemble"} and len(record["per_seed"]["ensemble"]) == 2
    assert set(record["summary"]) == {"modes", "quality"} and "Welch's t" in result.stdout


def test_the_committed_lab_seeds_check_comes_from_the_current_code():
    record = _committed_and_fresh("lab_ensemble_seeds.json")
    results = record["results"]
    assert results["variant"] == "GAN, fast discriminator" and results["data"] == "grid" and len(record["seeds"]) >= 10
    assert set(record["seeds"]).isdisjoint(range(5))  # new seeds: 0-4 are the earlier comparison's
    # the ensemble's distribution over seeds is the separate runs' (the claim of gentut.lab2d_ensemble)
    for key in ("modes", "quality", "modes_pooled"):
        t = results["summary"][key]["t"]
        assert t is not None and abs(t) < 3, (key, results["summary"][key])


def test_the_budgets_script_records_time_and_peak_memory(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = tmp_path / "tiny.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import os\nprint(os.environ['GENTUT_PROFILE'])")]), notebook)
    out = tmp_path / "budgets_smoke.json"
    result = subprocess.run([sys.executable, "bench/budgets.py", "--notebooks", str(notebook), "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    row = read_results(out)["results"]["notebooks"]["tiny.ipynb"]
    assert row["seconds"] > 0 and row["cpu_seconds"] is None
    if Path("/proc/self/status").exists():
        assert 20 < row["peak_memory_mb"] < 2048
    assert "total" in result.stdout and "target under 180 s" in result.stdout
    from gentut.notebooks import code_sha256

    assert row["code_sha256"] == code_sha256(nbformat.read(notebook, as_version=4))
    # a second notebook measured later joins the file; the first keeps its row
    other = tmp_path / "other.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), other)
    result = subprocess.run([sys.executable, "bench/budgets.py", "--notebooks", str(other), "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = read_results(out)["results"]["notebooks"]
    assert set(rows) == {"tiny.ipynb", "other.ipynb"} and rows["tiny.ipynb"]["seconds"] == row["seconds"]


# ---------------------------------------------------------------- budgets shown in the book

def _toc_notebooks() -> list[str]:
    from gentut.notebooks import toc_notebooks

    return [Path(p).as_posix() for p in toc_notebooks(ROOT)]


def _budget_rows(profile: str) -> dict:
    record = read_results(ROOT / "bench" / "results" / f"budgets_{profile}.json")
    summary = record["results"]["summary"]
    # the cpu profile on the stored outputs' data; the smoke profile on what CI has, the synthetic digits
    assert (summary["profile"], summary["dataset"]) == (profile, "fashion-mnist" if profile == "cpu" else "synthetic-digits")
    return record["results"]["notebooks"]


def _number(pattern: str, text: str, where: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{where}: no match for {pattern!r}"
    return int(found[1].replace(",", ""))


def _runtime_box(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "{admonition} Runtime" in cell.source:
            text = cell.source[cell.source.index("{admonition} Runtime"):]
            return " ".join(text.split("```")[0].split())  # one line: the box's sentences may wrap anywhere
    raise AssertionError("no Runtime box")


@pytest.mark.parametrize("notebook", _toc_notebooks())
def test_each_chapters_runtime_box_quotes_its_stored_run_and_measured_budgets(notebook):
    """The box at the top of a chapter says how long it takes and how much memory it needs: the
    seconds of the stored run (its run record), the peak memory of the cpu profile and the smoke
    profile's seconds and memory (bench/budgets.py), for the notebook's current code."""
    import nbformat

    from gentut.notebooks import code_sha256

    nb = nbformat.read(ROOT / notebook, as_version=4)
    cpu, smoke = _budget_rows("cpu")[notebook], _budget_rows("smoke")[notebook]
    for profile, row in (("cpu", cpu), ("smoke", smoke)):
        assert row["code_sha256"] == code_sha256(nb), (
            f"{notebook}'s code changed after bench/budgets_{profile}.json measured it: run "
            f"`python bench/budgets.py --profile {profile} --notebooks {notebook}"
            + (" --dataset fashion-mnist" if profile == "cpu" else "") + "` and update its Runtime box")
    # the book's target: no notebook above 2 GB
    assert cpu["peak_memory_mb"] < 2048 and smoke["peak_memory_mb"] < 2048, (cpu, smoke)
    box, run = _runtime_box(nb), nb.metadata["gentut"]["run"]
    assert run["profile"] == "cpu"
    assert _number(r"whose outputs you see here, took ([\d,]+) s", box, notebook) == round(run["seconds"])
    assert _number(r"needs at most ([\d,]+) MB", box, notebook) == cpu["peak_memory_mb"]
    assert _number(r"the `smoke` profile that the tests run takes ([\d,]+) s", box, notebook) == round(smoke["seconds"])
    assert _number(r"the `smoke` profile that the tests run takes [\d,]+ s and ([\d,]+) MB", box, notebook) \
        == smoke["peak_memory_mb"]


def test_the_running_pages_table_of_run_times_is_the_measured_one():
    """book/introduction/running.md lists every chapter's times and memory as the boxes do, and the
    book in the cpu profile fits the 45-minute target."""
    import nbformat

    page = (ROOT / "book" / "introduction" / "running.md").read_text()
    cpu, smoke = _budget_rows("cpu"), _budget_rows("smoke")
    total = 0.0
    for notebook in _toc_notebooks():
        nb = nbformat.read(ROOT / notebook, as_version=4)
        title = next(line[2:].strip() for cell in nb.cells if cell.cell_type == "markdown"
                     for line in cell.source.splitlines() if line.startswith("# "))
        rows = [line for line in page.splitlines() if line.startswith(f"| {title} |")]
        assert len(rows) == 1, f"running.md has {len(rows)} rows for {title!r}"
        cells = [c.strip() for c in rows[0].strip("|").split("|")]
        seconds = nb.metadata["gentut"]["run"]["seconds"]
        total += seconds
        assert cells[1] == f"{round(smoke[notebook]['seconds'])} s", (title, cells)
        assert cells[2].startswith(f"{round(seconds):,} s"), (title, cells)
        assert cells[3] == f"{cpu[notebook]['peak_memory_mb']:,} MB", (title, cells)
    assert total < 45 * 60, f"the book takes {total:.0f} s in the cpu profile, over the 45-minute target"
    assert f"{total / 60:.0f} minutes" in page, f"running.md should give the book's total, {total / 60:.0f} minutes"
