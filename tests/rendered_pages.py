"""Look at the built book in a real browser and report what a reader would see go wrong.

    python tests/rendered_pages.py [_build/html] [--mathjax DIR] [--width 1280 --width 390] [--screenshots DIR]
                                   [--chromium PATH]

Serves a copy of the built HTML on 127.0.0.1, opens every page in headless Chromium through its
DevTools protocol, waits for MathJax, and reports, per page and window width:

- display equations wider than the text column (``mjx-container`` wider than its parent),
- anything that makes the page scroll sideways (the widest elements are named),
- raw TeX left in the text (``$`` or ``\\frac``-like commands outside code and math),
- images that did not load, have no caption, or whose alt text is empty or a file name, and
  figures drawn much smaller than their pixels on a desktop (unreadable text),
- a machine's own paths in stored outputs (``/root/...``, ``/home/<user>/...``),
- cross-references that repeat their word ("exercise Exercise 5"), and exercises not numbered
  1, 2, ... within the page's chapter,
- reference lists: labels that are not author-year, and entries no page cites,
- solutions shown before a click, or still hidden after one,
- animations whose controls are cut off or do not change the frame,
- links to pages or anchors that do not exist,
- console errors, uncaught exceptions, failed requests, and requests for anything not served
  from 127.0.0.1.

With ``--screenshots DIR`` it also saves each page, whole, as ``DIR/<page>-<width>.png``, for a
person to look at (taken before the clicks: solutions closed, animations on their first frame).
Exits with 1 when anything was found. `make test` runs it on the built book (without
screenshots); tests/test_rendered_pages.py plants each kind of defect and checks it is found.

MathJax loads from a CDN in the built pages; pass ``--mathjax`` the ``package`` folder of
``npm pack mathjax@3`` to typeset offline (the copy's script tag is pointed at it). Without it,
the equation checks are skipped and said so. Needs ``chromium`` and the ``websocket-client``
package (a dependency of jupyter-server, so it comes with the book extra).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from html import unescape
from pathlib import Path

CDN_MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"

# Run in the page after MathJax has typeset; returns the findings as JSON-able lists.
PROBE_JS = r"""
(() => {
  const out = {wide_math: [], overflow: [], raw_tex: [], images: [], local_paths: [], doubled_refs: [],
               exercise_numbers: [], citation_labels: [], page_width: 0};
  const doc = document.documentElement;
  out.page_width = [doc.scrollWidth, doc.clientWidth];
  for (const m of document.querySelectorAll('mjx-container[display="true"]')) {
    const box = m.closest('.math') || m.parentElement;
    const w = m.firstElementChild ? m.firstElementChild.getBoundingClientRect().width : m.scrollWidth;
    if (w > box.clientWidth + 1) {
      out.wide_math.push({width: Math.round(w), column: box.clientWidth,
                          label: (box.id || (box.closest('[id]') || {}).id || ''),
                          tex: (m.getAttribute('aria-label') || m.textContent).slice(0, 80)});
    }
  }
  if (doc.scrollWidth > doc.clientWidth + 1) {
    const seen = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right > doc.clientWidth + 1 && r.width > 0) {
        // Report the outermost offenders only.
        if (seen.some(s => s.contains(el))) continue;
        let clipped = false;
        for (let p = el.parentElement; p; p = p.parentElement) {
          const s = getComputedStyle(p);
          if (s.overflowX === 'auto' || s.overflowX === 'scroll' || s.overflowX === 'hidden') {
            clipped = true; break;
          }
        }
        if (clipped) continue;
        seen.push(el);
        out.overflow.push({tag: el.tagName.toLowerCase(), cls: el.className && String(el.className).slice(0, 60),
                           right: Math.round(r.right), text: (el.textContent || '').trim().slice(0, 60)});
      }
    }
  }
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const texLike = /\$[^$\s][^$]*\$|\\(frac|mathbb|mathrm|operatorname|sum|int|log|qquad|left|right|begin)\b/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest('pre, code, script, style, mjx-container, .math, .cell_output, .output')) continue;
    const m = n.textContent.match(texLike);
    if (m) out.raw_tex.push(n.textContent.trim().slice(0, 100));
  }
  // The chapter's own images: not the theme's launch-button logos in the header.
  for (const img of document.querySelectorAll('article.bd-article img, main article img')) {
    if (img.closest('.bd-header-article, .header-article-items, .dropdown-launch-buttons')) continue;
    const alt = img.getAttribute('alt');
    const fig = img.closest('figure');
    const cap = fig && fig.querySelector('figcaption');
    const src = img.getAttribute('src') || '';
    const base = src.split('/').pop();
    const problems = [];
    if (img.complete && img.naturalWidth === 0) problems.push('did not load');
    if (!alt || !alt.trim()) problems.push('no alt text');
    else if (alt.includes('/') || alt.endsWith('.png') || alt.endsWith('.svg') || alt === base)
      problems.push('alt text is a file name');
    // An animation's frame sits in the player's HTML, which has no figure to caption.
    if (!cap && !img.closest('.animation')) problems.push('no caption');
    const shown = img.getBoundingClientRect().width;
    // On a desktop window a figure much wider than the column is drawn with unreadably small
    // text; on a phone every figure is scaled down, which is expected.
    if (doc.clientWidth >= 1000 && img.naturalWidth && shown && img.naturalWidth / shown > 1.3)
      problems.push(`drawn at ${Math.round(100 * shown / img.naturalWidth)}% of its ${img.naturalWidth} px`);
    if (problems.length) out.images.push({src: base, alt: (alt || '').slice(0, 60), problems});
  }
  // A machine's own paths in stored outputs ("/root/.cache/...", "/home/ann/...").
  const localPath = /(?:^|[\s'"(=:])((?:\/root|\/home\/[\w.-]+|\/Users\/[\w.-]+|\/tmp|\/work|\/var\/folders|[A-Z]:\\Users)[\/\\][^\s'")]*|[^\s'"]*site-packages[^\s'"]*)/;
  for (const o of document.querySelectorAll('.cell_output, .output')) {
    if (o.parentElement.closest('.cell_output, .output')) continue;
    for (const line of o.textContent.split('\n')) {
      const m = line.match(localPath);
      if (m) out.local_paths.push(m[1].slice(0, 100));
    }
  }
  // A cross-reference whose text repeats the word before it: "see exercise Exercise 5".
  const article = document.querySelector('article.bd-article, main article, main') || document.body;
  // textContent, not innerText: a closed solution's text is hidden but there.
  for (const m of article.textContent.replace(/\s+/g, ' ').matchAll(/\b(exercise|figure|equation|table|section|chapter)\s+\1\s+[\d(]/gi))
    out.doubled_refs.push(m[0]);
  // Exercises numbered per chapter: Exercise c.1, c.2, ... (or 1, 2, ...) on each page.
  const numbers = [...document.querySelectorAll('.exercise > .admonition-title')]
    .map(t => (t.textContent.trim().match(/^Exercise\s+(\d+(?:\.\d+)*)/) || [])[1] || '?');
  // The chapter's number is the prefix most of its exercises carry.
  const prefixes = numbers.map(n => n.split('.').slice(0, -1).join('.'));
  const prefix = prefixes.sort((a, b) => prefixes.filter(p => p === b).length -
                                         prefixes.filter(p => p === a).length)[0];
  numbers.forEach((n, i) => {
    const want = (prefix ? prefix + '.' : '') + (i + 1);
    if (n !== want) out.exercise_numbers.push({expected: want, found: n});
  });
  // Reference lists: author-year labels; entries on a chapter's list are cited from its text.
  for (const c of document.querySelectorAll('[role="doc-biblioentry"]')) {
    const label = (c.querySelector('.label') || c).textContent.replace(/[\[\]]/g, '').trim();
    if (!/\D, \d{4}[a-z]?$/.test(label)) out.citation_labels.push(label.slice(0, 60));
  }
  return out;
})()
"""

# Run after PROBE_JS (it clicks): a promise of what a reader's clicks do, and the page's links and
# ids for the site-wide link check.
INTERACT_JS = r"""
(async () => {
  const out = {solutions: [], animations: [], links: [], ids: [], entries: []};
  const tick = () => new Promise(r => setTimeout(r, 60));
  const shown = el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  // Solutions: hidden until the reader asks, then shown.
  for (const sol of document.querySelectorAll('.solution')) {
    const title = sol.querySelector(':scope > .admonition-title');
    const body = [...sol.children].filter(c => c !== title && c.tagName !== 'BUTTON');
    const name = (title ? title.textContent : sol.id).trim().slice(0, 60);
    if (!body.length) continue;
    if (body.some(shown)) { out.solutions.push({solution: name, problem: 'shown before a click'}); continue; }
    const button = sol.querySelector('button.toggle-button') || title;
    if (!button) { out.solutions.push({solution: name, problem: 'hidden, with nothing to click'}); continue; }
    button.click(); await tick();
    if (!body.some(shown)) out.solutions.push({solution: name, problem: 'still hidden after a click'});
    button.click(); await tick();
  }
  // Animations: the controls are visible and change the frame.
  const vw = document.documentElement.clientWidth;
  for (const [k, anim] of [...document.querySelectorAll('.animation')].entries()) {
    const img = anim.querySelector('img');
    const slider = anim.querySelector('input[type="range"]');
    const byName = name => [...anim.querySelectorAll('button')].find(
      b => (b.getAttribute('title') || b.getAttribute('aria-label') || '') === name);
    const problems = [];
    for (const el of [slider, ...anim.querySelectorAll('button')].filter(Boolean)) {
      const r = el.getBoundingClientRect();
      let clip = null;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
        if (getComputedStyle(p).overflowX !== 'visible') { clip = p.getBoundingClientRect(); break; }
      const right = Math.min(vw, clip ? clip.right : vw), left = Math.max(0, clip ? clip.left : 0);
      if (r.width === 0 || r.left < left - 1 || r.right > right + 1) {
        problems.push(`${el.tagName.toLowerCase()} ${el.getAttribute('title') || el.type || ''} cut off: ` +
                      `${Math.round(r.left)}-${Math.round(r.right)} px in ${Math.round(left)}-${Math.round(right)}`);
      }
    }
    if (!img || !slider) problems.push('no frame image or slider');
    else {
      const pause = byName('Pause'); if (pause) pause.click();
      const first = img.src, value = slider.value;
      const next = byName('Next frame');
      if (!next) problems.push('no "Next frame" button');
      else {
        next.click(); await tick();
        if (img.src === first || slider.value === value) problems.push('"Next frame" does not change the frame');
      }
      slider.value = slider.max; slider.dispatchEvent(new Event('input', {bubbles: true})); await tick();
      if (img.src === first) problems.push('moving the slider does not change the frame');
      const back = byName('First frame'); if (back) { back.click(); await tick(); }
    }
    if (problems.length) out.animations.push({animation: k + 1, problems});
  }
  for (const a of document.querySelectorAll('a[href]')) {
    if (a.protocol.startsWith('http') && a.host === location.host)
      out.links.push({href: a.href.split('#')[0], anchor: decodeURIComponent(a.hash.slice(1)),
                      text: a.textContent.trim().slice(0, 40)});
  }
  out.ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  for (const c of document.querySelectorAll('[role="doc-biblioentry"]')) {
    const text = [...c.querySelectorAll('p')].map(p => p.textContent).join(' ').replace(/\s+/g, ' ').trim();
    out.entries.push({text: text.slice(0, 200), cited: !!c.querySelector('[role="doc-backlink"]')});
  }
  return out;
})()
"""


class Browser:
    """A headless Chromium driven over the DevTools protocol (one tab)."""

    def __init__(self, binary: str = "chromium") -> None:
        import websocket  # websocket-client; imported here so --help works without it

        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="gentut-chromium-")
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={self.port}", "--remote-allow-origins=*",
             # Anything that is not the local server fails at once instead of hanging.
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tab = None
        for _ in range(100):
            try:
                tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json"))
                tab = next(t for t in tabs if t.get("type") == "page")
                break
            except Exception:  # not up yet
                time.sleep(0.1)
        if tab is None:
            self.close()
            raise RuntimeError(f"chromium did not open its DevTools port {self.port}")
        self.ws = websocket.create_connection(tab["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression: str, await_promise: bool = False):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=await_promise)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"].get("text", "evaluation failed"))
        return res["result"].get("value")

    def open(self, url: str, width: int, height: int = 900) -> None:
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)
        self.call("Page.navigate", url=url)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.evaluate("document.readyState") == "complete":
                break
            time.sleep(0.1)
        # Wait for MathJax's first typeset where the page has it.
        self.evaluate("(window.MathJax && MathJax.startup && MathJax.startup.promise) || null",
                      await_promise=True)
        time.sleep(0.3)
        self.call("Runtime.evaluate", expression="0")  # drain events that came meanwhile

    def problems_logged(self, host: str) -> list[str]:
        found = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                found.append("exception: " + (d.get("exception", {}).get("description")
                                              or d.get("text", "")).splitlines()[0])
            elif (m == "Log.entryAdded" and p["entry"]["level"] == "error"
                  and "favicon.ico" not in p["entry"].get("url", "")):
                found.append("console: " + p["entry"]["text"][:120])
            elif (m == "Runtime.consoleAPICalled" and p["type"] == "error"
                  # pydata-sphinx-theme's note on a fresh profile with no stored light/dark mode
                  and "invalid theme mode" not in str(p["args"])):
                found.append("console: " + " ".join(str(a.get("value", ""))
                                                    for a in p["args"])[:120])
            elif (m == "Network.responseReceived" and p["response"]["status"] >= 400
                  and not p["response"]["url"].endswith("/favicon.ico")):  # the browser's own
                found.append(f"HTTP {p['response']['status']}: {p['response']['url'][:120]}")
            elif m == "Network.requestWillBeSent":
                url = p["request"]["url"]
                if url.startswith("http") and f"//{host}" not in url:
                    found.append("external request: " + url[:120])
        return sorted(set(found))

    def screenshot(self, path: Path) -> None:
        """The whole page as it is drawn now, as a PNG file at `path`."""
        size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        self.proc.terminate()
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # one line per request would bury the report
        pass


def site_copy(html: Path, mathjax: Path | None, dest: Path) -> list[str]:
    """Copy the built book to ``dest``, pointing MathJax at a local copy when one is given."""
    shutil.copytree(html, dest)
    # _static holds the theme's template fragments, not pages.
    pages = sorted(str(p.relative_to(dest)) for p in dest.rglob("*.html")
                   if not p.name.startswith(("genindex", "search")) and p.parts[-2] != "_static")
    if mathjax is not None:
        shutil.copytree(mathjax, dest / "_mathjax")
        for rel in pages:
            page = dest / rel
            depth = len(Path(rel).parts) - 1
            local = "../" * depth + "_mathjax/es5/tex-mml-chtml.js"
            page.write_text(page.read_text(encoding="utf-8").replace(CDN_MATHJAX, local),
                            encoding="utf-8")
    return pages


def check_site(html: Path, mathjax: Path | None, widths: list[int], binary: str = "chromium",
               screenshots: Path | None = None, only: list[str] | None = None) -> dict[str, dict[int, dict]]:
    """Findings per page and width; an empty dict for a page means nothing was found. With
    `screenshots`, each page at each width is also saved there as a PNG file (solutions closed,
    animations on their first frame: as a reader first sees the page). `only` limits the pages
    opened (paths relative to `html`); links into the others are checked against their files."""
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "site"
        pages = site_copy(html, mathjax, dest)
        if only is not None:
            missing = sorted(set(only) - set(pages))
            if missing:
                raise ValueError(f"only: no such pages in {html}: {missing}")
            pages = [p for p in pages if p in only]
        server, port = _serve(dest)
        browser = Browser(binary)
        report: dict[str, dict[int, dict]] = {}
        seen: dict[str, dict] = {}  # per page: its links, ids and reference-list entries
        try:
            for rel in pages:
                for width in widths:
                    browser.open(f"http://127.0.0.1:{port}/{rel}", width)
                    found = browser.evaluate(PROBE_JS)
                    if screenshots is not None:
                        name = rel.removesuffix(".html").replace("/", "-")
                        browser.screenshot(screenshots / f"{name}-{width}.png")
                    clicked = browser.evaluate(INTERACT_JS, await_promise=True)
                    found["solutions"] = clicked.pop("solutions")
                    found["animations"] = clicked.pop("animations")
                    seen.setdefault(rel, clicked)
                    found["logged"] = browser.problems_logged(f"127.0.0.1:{port}")
                    if mathjax is None:
                        found.pop("wide_math")
                    kept = {k: v for k, v in found.items() if v and k != "page_width"}
                    if kept:
                        kept["page_width"] = found["page_width"]
                        report.setdefault(rel, {})[width] = kept
        finally:
            browser.close()
            server.shutdown()
        for rel, kinds in site_findings(dest, port, seen).items():
            page = report.setdefault(rel, {}).setdefault(widths[0], {"page_width": None})
            page.update(kinds)
    return report


def cited_entries(root: Path) -> set[str]:
    """The reference-list entries, as text, that some page of the site cites (those with a
    backlink), read from every page's HTML, including pages not opened in the browser."""
    found = set()
    entry = re.compile(r'<div class="citation"[^>]*role="doc-biblioentry"[^>]*>(.*?)</div>', re.S)
    for page in root.rglob("*.html"):
        for block in entry.findall(page.read_text(encoding="utf-8")):
            if 'role="doc-backlink"' in block:
                paragraphs = re.findall(r"<p>(.*?)</p>", block, re.S)
                text = unescape(re.sub(r"<[^>]+>", "", " ".join(paragraphs)))
                found.add(" ".join(text.split())[:200])
    return found


def site_findings(root: Path, port: int, seen: dict[str, dict]) -> dict[str, dict[str, list]]:
    """What only the whole site shows: links to a page or an anchor that does not exist, and
    reference-list entries cited nowhere (an entry a chapter lists without citing it, or one on
    the book's full list that no chapter cites)."""
    out: dict[str, dict[str, list]] = {}
    base = f"http://127.0.0.1:{port}/"
    ids = {rel: set(page["ids"]) for rel, page in seen.items()}
    cited = cited_entries(root)
    for rel, page in seen.items():
        broken = []
        for link in page["links"]:
            target = link["href"].removeprefix(base) or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (root / target).is_file():
                broken.append({"to": target, "text": link["text"]})
            elif link["anchor"] and target in ids and link["anchor"] not in ids[target]:
                broken.append({"to": f"{target}#{link['anchor']}", "text": link["text"]})
        if broken:
            out.setdefault(rel, {})["broken_links"] = broken
        uncited = [e["text"][:80] for e in page["entries"] if not e["cited"] and e["text"] not in cited]
        if uncited:
            out.setdefault(rel, {})["uncited_entries"] = uncited
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", nargs="?", default="_build/html", type=Path)
    ap.add_argument("--mathjax", type=Path, help="the package folder of `npm pack mathjax@3`")
    ap.add_argument("--width", type=int, action="append", help="window widths (1280 and 390)")
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--screenshots", type=Path, help="save every page at every width here, as PNG files")
    args = ap.parse_args(argv)
    widths = args.width or [1280, 390]
    if args.mathjax is None:
        print("no --mathjax: equations are not typeset, their widths are not checked")
    report = check_site(args.html, args.mathjax, widths, args.chromium, args.screenshots)
    if args.screenshots is not None:
        print(f"screenshots of every page in {args.screenshots}")
    for page, per_width in report.items():
        for width, found in per_width.items():
            print(f"\n== {page} at {width} px (page {found.pop('page_width') or '-'})")
            for kind, items in found.items():
                for item in items:
                    print(f"  {kind}: {json.dumps(item, ensure_ascii=False)}")
    print(f"\n{sum(len(v) for v in report.values())} page/width pairs with findings")
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
