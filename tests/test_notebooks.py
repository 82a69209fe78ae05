"""gentut.notebooks: the toc's notebooks hold clean outputs from a real run; cleaning and checks."""
from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from gentut.notebooks import (
    check_notebook,
    clean_outputs,
    colab_pin,
    execute_notebook,
    find_problems,
    find_root,
    merge_streams,
    pin_notebook,
    repository_url,
    resolve_carriage_returns,
    toc_entries,
    toc_notebooks,
)

ROOT = Path(__file__).resolve().parents[1]


def stream(text: str, name: str = "stdout"):
    return new_output("stream", name=name, text=text)


def executed_notebook(*cells, profile: str = "cpu"):
    """A notebook whose code cells were numbered 1, 2, ... by a run in `profile`."""
    nb = new_notebook(cells=list(cells))
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip():
            count += 1
            cell.execution_count = count
    nb.metadata["gentut"] = {"run": {"profile": profile, "seconds": 1.0}}
    return nb


# ---------------------------------------------------------------- the notebooks in the book


@pytest.mark.parametrize("path", toc_notebooks(ROOT), ids=str)
def test_toc_notebook_holds_outputs_of_a_clean_real_run(path):
    nb = nbformat.read(ROOT / path, as_version=4)
    problems = check_notebook(nb)
    assert not problems, f"{path}: run `make execute NOTEBOOKS={path}`\n" + "\n".join(problems)


def test_find_root_walks_up_to_the_folder_holding_the_toc():
    assert find_root(ROOT / "gentut") == ROOT


def test_find_root_names_the_missing_toc(tmp_path):
    with pytest.raises(FileNotFoundError, match="_toc.yml"):
        find_root(tmp_path)


def test_toc_entries_lists_root_parts_chapters_and_sections_in_order():
    toc = {
        "format": "jb-book",
        "root": "intro",
        "parts": [
            {"caption": "A", "chapters": [{"file": "a/one", "sections": [{"file": "a/two"}]}]},
            {"caption": "B", "chapters": [{"file": "b/three"}, {"url": "https://example.org"}]},
        ],
    }
    assert toc_entries(toc) == ["intro", "a/one", "a/two", "b/three"]


def test_toc_entries_rejects_a_toc_without_root():
    with pytest.raises(ValueError, match="root"):
        toc_entries({"chapters": []})


# ---------------------------------------------------------------- cleaning outputs


def test_carriage_returns_keep_the_final_state_of_a_progress_bar():
    text = "\r  0%|          | 0/10\r 50%|#####     | 5/10\r100%|##########| 10/10\n"
    assert resolve_carriage_returns(text) == "100%|##########| 10/10\n"


def test_carriage_returns_leave_plain_lines_and_windows_line_ends_readable():
    assert resolve_carriage_returns("a\nb\n") == "a\nb\n"
    assert resolve_carriage_returns("loss 0.5\r\nloss 0.4\r\n") == "loss 0.5\nloss 0.4\n"


def test_carriage_returns_turn_a_blanked_line_into_an_empty_line():
    assert resolve_carriage_returns("\r 50%|####\r          \r") == ""


def test_merge_streams_joins_only_consecutive_streams_of_the_same_name():
    outputs = [stream("a"), stream("b"), stream("c", "stderr"), stream("d")]
    merged = merge_streams(outputs)
    assert [(o["name"], o["text"]) for o in merged] == [("stdout", "ab"), ("stderr", "c"), ("stdout", "d")]


def test_clean_outputs_resolves_a_bar_split_over_messages_and_drops_empty_stderr():
    cell = new_code_cell("train()")
    cell.outputs = [
        stream("\r  0%|   | 0/2", "stderr"),
        stream("\r100%|###| 2/2", "stderr"),
        stream("\n", "stderr"),
        stream("done\n"),
        stream("\r    \r", "stderr"),
    ]
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    nb = clean_outputs(new_notebook(cells=[cell]))
    outputs = nb.cells[0].outputs
    assert [(o["name"], o["text"]) for o in outputs] == [("stderr", "100%|###| 2/2\n"), ("stdout", "done\n")]
    assert "execution" not in nb.cells[0].metadata


# ---------------------------------------------------------------- finding problems


def error_output():
    return new_output("error", ename="ValueError", evalue="bad", traceback=["Traceback ..."])


def test_find_problems_reports_an_error_in_an_untagged_cell():
    cell = new_code_cell("f()")
    cell.outputs = [error_output()]
    [problem] = find_problems(new_notebook(cells=[cell]))
    assert "ValueError" in problem and "raises-exception" in problem


def test_find_problems_accepts_an_error_in_a_cell_tagged_raises_exception():
    cell = new_code_cell("f()", metadata={"tags": ["raises-exception"]})
    cell.outputs = [error_output()]
    assert find_problems(new_notebook(cells=[cell])) == []


def test_find_problems_reports_warnings_in_streams_and_results():
    printed = new_code_cell("g()")
    printed.outputs = [stream("x.py:3: UserWarning: careful\n", "stderr")]
    returned = new_code_cell("h()")
    returned.outputs = [new_output("execute_result", data={"text/plain": "RuntimeWarning"}, execution_count=2)]
    problems = find_problems(new_notebook(cells=[printed, returned]))
    assert len(problems) == 2
    assert "UserWarning: careful" in problems[0] and problems[1].startswith("cell 1")


def test_check_accepts_a_clean_run_in_the_cpu_profile():
    nb = executed_notebook(new_markdown_cell("# Title"), new_code_cell("1 + 1"), new_code_cell(""))
    assert check_notebook(nb) == []


def test_check_rejects_outputs_from_the_smoke_profile():
    nb = executed_notebook(new_code_cell("1 + 1"), profile="smoke")
    assert any("profile" in problem for problem in check_notebook(nb))


def test_check_rejects_a_notebook_never_run_by_execute():
    nb = executed_notebook(new_code_cell("1 + 1"))
    del nb.metadata["gentut"]
    assert any("gentut.run" in problem for problem in check_notebook(nb))


def test_check_rejects_cells_run_out_of_order_or_not_at_all():
    nb = executed_notebook(new_code_cell("a = 1"), new_code_cell("b = 2"))
    nb.cells[1].execution_count = 5
    assert any("execution_count 5, expected 2" in problem for problem in check_notebook(nb))
    nb.cells[1].execution_count = None
    assert any("execution_count None" in problem for problem in check_notebook(nb))


def test_check_ignores_cells_tagged_skip_execution():
    skipped = new_code_cell("download_everything()", metadata={"tags": ["skip-execution"]})
    nb = executed_notebook(new_code_cell("a = 1"))
    nb.cells.append(skipped)
    assert check_notebook(nb) == []


# ---------------------------------------------------------------- running (a real kernel, ~2 s each)


def test_execute_stores_the_final_bar_and_the_run_record(tmp_path, monkeypatch):
    monkeypatch.delenv("GENTUT_PROFILE", raising=False)
    code = (
        "import os, sys\n"
        "for i in range(3):\n"
        "    sys.stderr.write(f'\\r{i + 1}/3'); sys.stderr.flush()\n"
        "sys.stderr.write('\\n'); sys.stderr.flush()\n"
        "print(os.environ['GENTUT_PROFILE'], os.path.basename(os.getcwd()))"
    )
    path = tmp_path / "chapter" / "run.ipynb"
    path.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(code)]), path)

    record = execute_notebook(path)

    nb = nbformat.read(path, as_version=4)
    texts = {output["name"]: output["text"] for output in nb.cells[0].outputs}
    assert texts == {"stderr": "3/3\n", "stdout": "cpu chapter\n"}
    assert nb.metadata["gentut"]["run"] == record
    assert record["profile"] == "cpu" and record["seconds"] > 0 and record["device"] == "cpu"
    assert check_notebook(nb) == []


def test_execute_refuses_a_warning_and_leaves_the_file_untouched(tmp_path):
    code = "import warnings\nwarnings.warn('stale output')"
    path = tmp_path / "warns.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(code)]), path)
    before = path.read_text()
    with pytest.raises(RuntimeError, match="UserWarning: stale output"):
        execute_notebook(path)
    assert path.read_text() == before


def test_find_problems_reports_exception_text_and_local_paths():
    nb = executed_notebook(
        new_code_cell("print(data.source)", outputs=[stream("MNIST unavailable (offline: [Errno -2] Name or service)\n")]),
        new_code_cell("print(path)", outputs=[stream("saved to /root/.cache/gentut/x.pt\n")]),
        new_code_cell("print(path)", outputs=[stream("saved to ~/.cache/gentut/x.pt\n")]),
    )
    problems = find_problems(nb)
    assert len(problems) == 2
    assert "cell 0" in problems[0] and "'Errno'" in problems[0]
    assert "cell 1" in problems[1] and "local path '/root/'" in problems[1]


def test_check_rejects_a_cpu_run_over_the_chapter_budget():
    nb = executed_notebook(new_code_cell("x = 1"))
    nb.metadata["gentut"]["run"]["seconds"] = 901.0
    assert any("over the book's budget of 900 s" in p for p in check_notebook(nb))
    nb.metadata["gentut"]["run"]["seconds"] = 899.0
    assert check_notebook(nb) == []


# ---------------------------------------------------------------- the Colab install cell

SHA_A, SHA_B = "a" * 40, "b" * 40
INSTALL = ('import sys\n\nif "google.colab" in sys.modules:\n'
           '    %pip install --quiet "gentut @ git+https://github.com/gentut/gentut@{}"')


def test_colab_pin_reads_and_pin_notebook_rewrites_the_address_and_the_commit():
    nb = executed_notebook(new_code_cell(INSTALL.format(SHA_A)), new_code_cell("x = 1"))
    assert colab_pin(nb) == ("https://github.com/gentut/gentut", SHA_A)
    assert pin_notebook(nb, "https://github.com/a-fork/gentut", SHA_B)
    assert colab_pin(nb) == ("https://github.com/a-fork/gentut", SHA_B)
    assert 'git+https://github.com/a-fork/gentut@' + SHA_B + '"' in nb.cells[0].source
    assert not pin_notebook(nb, "https://github.com/a-fork/gentut", SHA_B)  # nothing left to change
    with pytest.raises(ValueError, match="full 40-character commit"):
        pin_notebook(nb, "https://github.com/a-fork/gentut", "main")
    with pytest.raises(ValueError, match="repository address"):
        pin_notebook(nb, "https://gitlab.com/a/b", SHA_B)
    with pytest.raises(ValueError, match="repository address"):  # pip's URL would read gentut.git.git
        pin_notebook(nb, "https://github.com/a-fork/gentut.git", SHA_B)
    assert colab_pin(executed_notebook(new_code_cell("x = 1"))) is None


def test_check_rejects_an_install_cell_that_is_not_the_runs_commit_or_names_none():
    nb = executed_notebook(new_code_cell(INSTALL.format(SHA_A)))
    nb.metadata["gentut"]["run"]["commit"] = SHA_A
    assert check_notebook(nb) == []
    nb.metadata["gentut"]["run"]["commit"] = SHA_B
    assert any(f"installs commit {SHA_A[:12]}, but the stored outputs come from {SHA_B[:12]}" in p
               for p in check_notebook(nb))
    nb.cells[0].source = INSTALL.replace("@{}", "")  # the moving head
    assert any("one repository and one commit" in p for p in check_notebook(nb))


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_execute_pins_the_install_cell_to_head_and_refuses_a_package_no_commit_holds(tmp_path, monkeypatch):
    monkeypatch.delenv("GENTUT_PROFILE", raising=False)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: run\n")
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/a-fork/gentut\n")
    (tmp_path / "gentut").mkdir()
    (tmp_path / "gentut" / "__init__.py").write_text("")
    path = tmp_path / "run.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(INSTALL.format(SHA_A)), new_code_cell("1 + 1")]), path)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "package")
    head = _git(tmp_path, "rev-parse", "HEAD")

    record = execute_notebook(path)

    nb = nbformat.read(path, as_version=4)
    assert record["commit"] == head and colab_pin(nb) == ("https://github.com/a-fork/gentut", head)
    assert check_notebook(nb) == []
    (tmp_path / "gentut" / "__init__.py").write_text("changed = True\n")
    before = path.read_text()
    with pytest.raises(RuntimeError, match=r"no commit holds(.|\n)*gentut/__init__.py"):
        execute_notebook(path)
    assert path.read_text() == before


def test_every_chapter_installs_the_commit_that_produced_its_outputs_from_the_books_repository():
    url = repository_url(ROOT)
    for path in toc_notebooks(ROOT):
        nb = nbformat.read(ROOT / path, as_version=4)
        pinned = colab_pin(nb)
        assert pinned is not None, f"{path} has no Colab install cell"
        assert pinned == (url, nb.metadata["gentut"]["run"]["commit"]), path
        # The commit is in this repository's history (where a clone has it).
        if (ROOT / ".git").exists():
            assert subprocess.run(["git", "cat-file", "-e", f"{pinned[1]}^{{commit}}"], cwd=ROOT).returncode == 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from Linux's /proc")
def test_execute_records_the_kernels_peak_memory(tmp_path, monkeypatch):
    """A cell that holds 300 MB for a moment raises the recorded peak by about that much."""
    monkeypatch.delenv("GENTUT_PROFILE", raising=False)
    records = {}
    for name, code in (("small", "x = 1"), ("large", "import numpy as np\nx = np.ones(300 * 2**20 // 8)\ndel x")):
        path = tmp_path / name / "run.ipynb"
        path.parent.mkdir()
        nbformat.write(new_notebook(cells=[new_code_cell(code)]), path)
        records[name] = execute_notebook(path)
    assert 20 < records["small"]["peak_memory_mb"] < records["large"]["peak_memory_mb"]
    assert 250 < records["large"]["peak_memory_mb"] - records["small"]["peak_memory_mb"] < 400
