"""The chapters' Colab install cells, run in a simulated Colab: a fresh IPython shell in which
``google.colab`` is importable, with this repository standing in for GitHub (a ``file://`` address)
and the install going to a folder of its own. The cell must install the commit the chapter's
outputs came from, and do nothing outside Colab."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gentut.notebooks import colab_pin, find_root

ROOT = find_root(Path(__file__).parent)

# Runs one cell in an IPython shell, as a notebook kernel would (magics and ! commands included).
SHELL = """
import sys, types
if {colab!r}:
    sys.modules["google"] = types.ModuleType("google")
    sys.modules["google.colab"] = types.ModuleType("google.colab")
from IPython.core.interactiveshell import InteractiveShell
result = InteractiveShell.instance().run_cell({source!r})
sys.exit(0 if result.success else 1)
"""


def _simulate(chapter: str, tmp_path: Path, colab: bool = True) -> tuple[str, Path]:
    nb = nbformat.read(ROOT / chapter, as_version=4)
    url, commit = colab_pin(nb)
    cell = next(c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
    target = tmp_path / "site-packages"
    source = (cell.replace(url, f"file://localhost{ROOT}").replace("/content/", f"{tmp_path}/content/")
              # the packages Colab already has are this venv's; setuptools builds from it offline
              .replace("%pip install --quiet", f"%pip install --quiet --no-deps --no-build-isolation --target {target}"))
    if not (ROOT / ".git").exists():
        pytest.skip("not a git clone: the pinned commit cannot be fetched from it")
    run = subprocess.run([sys.executable, "-c", SHELL.format(colab=colab, source=source)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return commit, target


@pytest.mark.parametrize("chapter", ["book/gan/gan.ipynb", "book/comparison/comparison.ipynb"])
def test_in_colab_the_install_cell_installs_the_commit_that_produced_the_outputs(chapter, tmp_path):
    commit, target = _simulate(chapter, tmp_path)
    [info] = target.glob("gentut-*.dist-info")
    direct = json.loads((info / "direct_url.json").read_text())
    if "vcs_info" in direct:  # pip install git+...@commit
        assert direct["vcs_info"] == {"vcs": "git", "commit_id": commit, "requested_revision": commit}
    else:  # a clone checked out at the commit, installed from its folder
        clone = tmp_path / "content" / "gentut"
        assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True,
                              text=True).stdout.strip() == commit
        assert (clone / "bench" / "results").is_dir()  # what this chapter reads beside the package
    # The installed package is that commit's, file for file.
    for name in ("gentut/__init__.py", "gentut/trainer.py"):
        at_commit = subprocess.run(["git", "show", f"{commit}:{name}"], cwd=ROOT, capture_output=True,
                                   text=True, check=True).stdout
        assert (target / name).read_text() == at_commit


def test_outside_colab_the_install_cell_does_nothing(tmp_path):
    _simulate("book/gan/gan.ipynb", tmp_path, colab=False)
    assert not (tmp_path / "site-packages").exists()
