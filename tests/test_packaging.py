"""Packaging stays consistent: pyproject.toml, environment.yml, the Makefile and _toc.yml agree."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from gentut.notebooks import read_toc, resolve_entry, toc_entries

ROOT = Path(__file__).resolve().parents[1]

# conda-forge spells some packages differently from PyPI.
CONDA_TO_PYPI = {"pytorch": "torch"}
# Names in environment.yml that are tools for conda itself, not gentut's dependencies.
CONDA_ONLY = {"python", "pip"}


def normalise(name: str) -> str:
    """PEP 503 normalisation: case-insensitive, runs of -, _ and . are one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def pyproject_requirements() -> dict[str, Requirement]:
    project = load_pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    return {normalise(Requirement(line).name): Requirement(line) for line in lines}


def conda_names(text: str) -> set[str]:
    """Package names in an environment.yml's conda dependencies (not its pip section)."""
    try:
        import yaml

        dependencies = yaml.safe_load(text)["dependencies"]
        specs = [item for item in dependencies if isinstance(item, str)]
    except ModuleNotFoundError:  # a tiny parser: top-level "  - spec" lines
        specs = re.findall(r"^  - ([^\s#:]+)\s*$", text, flags=re.MULTILINE)
    names = {normalise(re.split(r"[<>=!~ ]", spec, maxsplit=1)[0]) for spec in specs}
    return {CONDA_TO_PYPI.get(name, name) for name in names - CONDA_ONLY}


def test_conda_names_are_parsed_without_versions_and_mapped_to_pypi():
    text = "dependencies:\n  - python=3.11\n  - pytorch>=2.4,<3\n  - sphinx_exercise>=1\n  - pip:\n      - -e .\n"
    assert conda_names(text) == {"torch", "sphinx-exercise"}


def test_environment_yml_names_the_same_packages_as_pyproject():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    conda = conda_names(text)
    # a requirement with a marker counts if it applies to the environment's Python (tomli: < 3.11)
    python = re.search(r"^  - python=(\d+\.\d+)", text, flags=re.MULTILINE).group(1)
    pypi = {name for name, requirement in pyproject_requirements().items()
            if requirement.marker is None or requirement.marker.evaluate({"python_version": python})}
    assert conda == pypi, f"only in environment.yml: {conda - pypi}; only in pyproject: {pypi - conda}"


def test_environment_yml_installs_gentut_itself_with_pip():
    yaml = pytest.importorskip("yaml")
    dependencies = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))["dependencies"]
    pip_sections = [item["pip"] for item in dependencies if isinstance(item, dict) and "pip" in item]
    assert pip_sections == [["-e ."]]


def test_makefile_torch_pin_satisfies_pyproject_range():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^TORCH_SPEC \?= torch==(\S+)", makefile, flags=re.MULTILINE)
    assert match, "expected a line 'TORCH_SPEC ?= torch==X.Y.Z' in the Makefile"
    pinned = Version(match.group(1))
    torch_range = pyproject_requirements()["torch"].specifier
    assert torch_range.contains(pinned), f"torch {pinned} is outside pyproject's range {torch_range}"


def test_jupyter_book_stays_below_version_2():
    # Version 2 ignores _config.yml and _toc.yml and builds nothing, exiting 0.
    specifier = pyproject_requirements()["jupyter-book"].specifier
    assert specifier.contains("1.0.4") and not specifier.contains("2.0.0")


def test_every_file_in_the_toc_exists():
    entries = toc_entries(read_toc(ROOT))
    assert entries[0] == "book/intro"
    missing = []
    for entry in entries:
        try:
            resolve_entry(ROOT, entry)
        except FileNotFoundError as error:
            missing.append(str(error))
    assert not missing, "\n".join(missing)


def test_toc_names_each_file_once():
    entries = toc_entries(read_toc(ROOT))
    assert len(entries) == len(set(entries)), f"duplicates in _toc.yml: {entries}"
