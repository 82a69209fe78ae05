"""Open chapters in a headless JupyterLab and report what of the book's MyST a reader sees raw.

    python tests/lab_view.py [book/gan/gan.ipynb ...] [--screenshot DIR]

Starts JupyterLab (with whatever extensions are installed: `make lab` has ``jupyterlab-myst``)
on 127.0.0.1 with a throw-away settings folder that renders every cell (no windowing), opens
each notebook in headless Chromium through the DevTools protocol (see rendered_pages.py), and
reports, per notebook, how many markdown cells show:

- a directive fence as text (```` ```{exercise} ````, ``:::{note}``),
- a role as text (``{cite}`key` ``, ``{eq}`label` ``, ``{ref}`label` ``),
- raw TeX (``$...$``),

- what jupyterlab-myst could not render (its "Unknown Directive" boxes),

and how many exercises and solutions render as boxes. Exits with 1 when anything shows raw.
Needs chromium; `make lab-check` runs it on every chapter. A solution's code cells stay visible in a
notebook (a box cannot fold cells that follow it): the workbooks are for working alone.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from rendered_pages import Browser, _free_port  # noqa: E402

PROBE_JS = r"""
(() => {
  const cells = [...document.querySelectorAll('.jp-MarkdownCell')];
  const out = {markdown_cells: cells.length, raw_directives: [], raw_roles: [], raw_tex: [], unknown: [],
               exercises: 0, solutions: 0};
  for (const cell of cells) {
    const shown = cell.querySelector('.myst, .jp-RenderedMarkdown') || cell;
    const text = shown.innerText || '';
    for (const m of text.matchAll(/(`{3,}|:{3,})\{[\w-]+\}[^\n]*/g)) out.raw_directives.push(m[0].slice(0, 60));
    for (const m of text.matchAll(/\{(cite|cite:p|cite:t|eq|ref|numref|doc)\}`[^`]*`/g)) out.raw_roles.push(m[0].slice(0, 60));
    // jupyterlab-myst draws what it cannot render as a warning box: "button-link - Unknown Directive".
    for (const m of text.matchAll(/[^\n]*Unknown (Directive|Role)[^\n]*/g)) out.unknown.push(m[0].trim().slice(0, 60));
    const plain = [...shown.querySelectorAll('p, li')].filter(e => !e.closest('pre, code, .math, .katex'));
    for (const p of plain) {
      const t = [...p.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('');
      const m = t.match(/\$[^$\s][^$]*\$/);
      if (m) out.raw_tex.push(m[0].slice(0, 60));
    }
  }
  // jupyterlab-myst's exercise and solution boxes carry the class myst-exercise.
  for (const title of document.querySelectorAll('.jp-MarkdownCell .myst-exercise-title')) {
    const t = title.textContent.trim();
    if (/^Exercise/.test(t)) out.exercises += 1;
    else if (/^(Start of )?Solution/.test(t)) out.solutions += 1;
  }
  return out;
})()
"""


SCROLL_JS = r"""
(async () => {
  for (const cell of document.querySelectorAll('.jp-Cell')) {
    cell.scrollIntoView();
    await new Promise(r => setTimeout(r, 30));
  }
})()
"""


def start_lab(root: Path, port: int, token: str, settings: Path) -> subprocess.Popen:
    # Render every cell: JupyterLab 4 otherwise draws only the cells in view.
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    jupyter = Path(sys.executable).with_name("jupyter")
    return subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'workspaces'}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {seconds:.0f} s")


def check_notebooks(root: Path, notebooks: list[str], screenshots: Path | None = None) -> dict[str, dict]:
    port, token = _free_port(), secrets.token_hex(16)
    settings = Path(tempfile.mkdtemp(prefix="gentut-lab-"))
    lab = start_lab(root, port, token, settings)
    report = {}
    try:
        wait_for(f"http://127.0.0.1:{port}/api/status?token={token}")
        browser = Browser()
        try:
            for notebook in notebooks:
                browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                             deviceScaleFactor=1, mobile=False)
                browser.call("Page.navigate", url=f"http://127.0.0.1:{port}/lab/tree/{notebook}?reset&token={token}")
                found, deadline = None, time.time() + 120
                # JupyterLab draws a markdown cell when it first comes into view: scroll through
                # the notebook until what is drawn stops changing.
                while time.time() < deadline:
                    browser.evaluate(SCROLL_JS, await_promise=True)
                    time.sleep(1)
                    now = browser.evaluate(PROBE_JS)
                    if now["markdown_cells"] and now == found:
                        break
                    found = now
                browser.evaluate("document.querySelector('.jp-MarkdownCell')?.scrollIntoView()")
                time.sleep(0.5)
                report[notebook] = found
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    shot = browser.call("Page.captureScreenshot", format="png")
                    name = notebook.removesuffix(".ipynb").replace("/", "-")
                    (screenshots / f"lab-{name}.png").write_bytes(base64.b64decode(shot["data"]))
        finally:
            browser.close()
    finally:
        lab.terminate()
        try:
            lab.wait(10)
        except subprocess.TimeoutExpired:
            lab.kill()
        shutil.rmtree(settings, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", default=["book/gan/gan.ipynb"])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--screenshot", type=Path, help="save the first screen of each notebook here")
    args = ap.parse_args(argv)
    if shutil.which("chromium") is None:
        print("no chromium: install it (apt-get install -y chromium)")
        return 1
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    report = check_notebooks(args.root, args.notebooks, args.screenshot)
    bad = 0
    for notebook, found in report.items():
        print(f"== {notebook}: {found['markdown_cells']} markdown cells; {found['exercises']} exercises and "
              f"{found['solutions']} solutions drawn as boxes")
        for kind in ("raw_directives", "raw_roles", "raw_tex", "unknown"):
            for item in found[kind]:
                print(f"  {kind}: {item}")
            bad += len(found[kind])
    print(f"{bad} raw MyST items shown")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
