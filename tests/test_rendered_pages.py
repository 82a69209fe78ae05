"""The browser check of the built book (tests/rendered_pages.py, `make pages`) finds each kind of
defect it looks for when one is planted in a small site, and nothing on a clean page.

Needs Debian's chromium (`apt-get install -y chromium`); without it the test is skipped and says
so. The wide-equation check also needs the local MathJax copy that `make pages` unpacks."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rendered_pages

MATHJAX = Path.home() / ".cache" / "gentut" / "mathjax3" / "package"
PNG = bytes.fromhex(  # a 1x1 grey PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c636800000082008177cd72b60000000049454e44ae426082")


def _page(body: str, mathjax: bool) -> str:
    script = f'<script async src="{rendered_pages.CDN_MATHJAX}"></script>' if mathjax else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'>{script}"
            f"<style>main {{max-width: 600px}} .math {{overflow: visible}}</style></head>"
            f"<body><main><article class='bd-article'>{body}</article></main></body></html>")


CLEAN = """<p>A clean page: text, an inline equation \\(x^2\\), and a captioned figure.</p>
<div class="math">\\[ a + b = c \\]</div>
<figure><img src="pixel.png" alt="A grey square" width="100"><figcaption>A grey square.</figcaption></figure>
<pre>$ python -m gentut train vae  # dollars in code are not TeX</pre>"""

DEFECTS = """<p>Raw TeX a reader would see: $x^2$ and \\frac{a}{b}.</p>
<img src="pixel.png">
<figure><img src="pixel.png" alt="figures/pixel.png"><figcaption>Alt text that is a file name.</figcaption></figure>
<div style="width: 2000px">a block wider than any window</div>
<img src="http://example.invalid/remote.png" alt="A remote image">
<script>console.error("planted console error");</script>
<script>throw new Error("planted exception");</script>"""

WIDE_MATH = """<div class="math">\\[ a_1 + a_2 + a_3 + a_4 + a_5 + a_6 + a_7 + a_8 + a_9 + a_{10} + a_{11}
+ a_{12} + a_{13} + a_{14} + a_{15} + a_{16} + a_{17} + a_{18} + a_{19} + a_{20} + a_{21} + a_{22}
+ a_{23} + a_{24} + a_{25} + a_{26} + a_{27} + a_{28} + a_{29} + a_{30} = b \\]</div>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium): the browser check is not tested")
    mathjax = MATHJAX if (MATHJAX / "es5" / "tex-mml-chtml.js").is_file() else None
    site = tmp_path_factory.mktemp("site")
    (site / "pixel.png").write_bytes(PNG)
    (site / "clean.html").write_text(_page(CLEAN, mathjax is not None), encoding="utf-8")
    (site / "defects.html").write_text(_page(DEFECTS, False), encoding="utf-8")
    (site / "wide.html").write_text(_page(WIDE_MATH, mathjax is not None), encoding="utf-8")
    shots = tmp_path_factory.mktemp("screenshots")
    return rendered_pages.check_site(site, mathjax, [1280], screenshots=shots), mathjax, shots


def test_a_clean_page_has_no_findings(report):
    found = report[0]
    assert "clean.html" not in found, found.get("clean.html")


def test_each_planted_defect_is_found(report):
    found = report[0]["defects.html"][1280]
    assert any("$x^2$" in text for text in found["raw_tex"])
    problems = {image["alt"]: image["problems"] for image in found["images"]}
    assert problems[""] == ["no alt text", "no caption"]
    assert problems["figures/pixel.png"] == ["alt text is a file name"]
    assert any(item["tag"] == "div" for item in found["overflow"])
    logged = "\n".join(found["logged"])
    assert "planted console error" in logged and "planted exception" in logged
    assert "external request: http://example.invalid/remote.png" in logged


def test_an_equation_wider_than_its_column_is_found(report):
    found, mathjax, _ = report
    if mathjax is None:
        pytest.skip(f"no local MathJax in {MATHJAX} (`make pages` unpacks it): equations are not typeset")
    wide = found["wide.html"][1280]["wide_math"]
    assert len(wide) == 1 and wide[0]["width"] > wide[0]["column"]


def test_every_page_is_saved_as_a_screenshot_of_the_whole_page(report):
    shots = report[2]
    assert sorted(p.name for p in shots.iterdir()) == ["clean-1280.png", "defects-1280.png", "wide-1280.png"]
    header = (shots / "defects-1280.png").read_bytes()[:24]
    assert header[:8] == bytes.fromhex("89504e470d0a1a0a")
    width = int.from_bytes(header[16:20], "big")
    assert width >= 2000  # the whole page, including the block that is wider than the window
