"""The browser check of the built book (tests/rendered_pages.py, `make pages`) finds each kind of
defect it looks for when one is planted in a small site, and nothing on a clean page.

Needs Debian's chromium (`apt-get install -y chromium`); without it the test is skipped and says
so. The wide-equation check also needs the local MathJax copy that `make browser` unpacks, and the
test that puts the real-data revision's defects back needs the built book (`make book`); make test
provides both before the unit tests."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import rendered_pages

# Where `make browser` unpacks MathJax 3 (make passes its MATHJAX_DIR on as GENTUT_MATHJAX).
MATHJAX = Path(os.environ.get("GENTUT_MATHJAX", Path.home() / ".cache" / "gentut" / "mathjax3" / "package"))
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
<pre>$ python -m gentut train vae  # dollars in code are not TeX</pre>
<div class="exercise"><p class="admonition-title">Exercise 2.1 (first)</p></div>
<div class="exercise"><p class="admonition-title">Exercise 2.2 (second)</p></div>
<p>As <a href="#clean-ex">Exercise 2.1</a> shows, and <a id="cite-1" href="#entry-1">Goodfellow et al., 2014</a>
say; more on <a href="defects.html#planted">the other page</a>.</p>
<div class="solution" id="clean-ex"><p class="admonition-title">Solution to Exercise 2.1
<button class="toggle-button" onclick="const s = this.closest('.solution').querySelector('section'); s.hidden = !s.hidden">show</button></p>
<section hidden><p>The worked answer.</p></section></div>
<div class="cell_output"><pre>classifier loaded from cache ~/.cache/gentut/classifiers/x.pt</pre></div>
<div class="animation"><img id="frame" src="pixel.png?0" alt="Animation of two frames">
<div class="anim-controls"><input type="range" class="anim-slider" min="0" max="1" step="1" value="0" oninput="show(+this.value)">
<div class="anim-buttons"><button title="First frame" onclick="show(0)">|&lt;</button>
<button title="Next frame" onclick="show(1)">&gt;</button></div></div></div>
<script>function show(i) { document.getElementById('frame').src = 'pixel.png?' + i;
                           document.querySelector('.anim-slider').value = i; }</script>
<div class="citation" id="entry-1" role="doc-biblioentry">
<span class="label">[<a role="doc-backlink" href="#cite-1">Goodfellow et al., 2014</a>]</span><p>Ian Goodfellow and others. Generative adversarial nets. 2014.</p></div>"""

DEFECTS = """<p>Raw TeX a reader would see: $x^2$ and \\frac{a}{b}.</p>
<img src="pixel.png">
<figure><img src="pixel.png" alt="figures/pixel.png"><figcaption>Alt text that is a file name.</figcaption></figure>
<div style="width: 2000px">a block wider than any window</div>
<img src="http://example.invalid/remote.png" alt="A remote image">
<script>console.error("planted console error");</script>
<script>throw new Error("planted exception");</script>
<figure><img src="missing.png" alt="A lost image"><figcaption>An image that is not there.</figcaption></figure>
<p id="planted">See exercise Exercise 3, <a href="missing.html">a missing page</a> and
<a href="clean.html#no-such-anchor">a missing anchor</a>.</p>
<div class="exercise"><p class="admonition-title">Exercise 6 (numbered on from the last chapter)</p></div>
<div class="exercise"><p class="admonition-title">Exercise 7</p></div>
<div class="solution"><p class="admonition-title">Solution to Exercise 6</p><section><p>Shown at once.</p></section></div>
<div class="solution"><p class="admonition-title">Solution to Exercise 7 <button class="toggle-button">show</button></p>
<section hidden><p>Never shown, as exercise Exercise 7 says.</p></section></div>
<div class="cell_output"><pre>classifier loaded from cache /root/.cache/gentut/classifiers/x.pt</pre></div>
<div style="width: 200px; overflow-x: auto"><div class="animation"><img src="pixel.png?0" alt="A stuck animation">
<div class="anim-controls"><input type="range" class="anim-slider" min="0" max="1" value="0" style="width: 374px">
<div class="anim-buttons"><button title="Next frame">&gt;</button></div></div></div></div>
<div class="citation" id="entry-2" role="doc-biblioentry"><span class="label">[<a role="doc-backlink" href="#planted">ACB17</a>]</span><p>Martin Arjovsky and others. Wasserstein GAN. 2017.</p></div>
<div class="citation" id="entry-3" role="doc-biblioentry"><span class="label">[Nobody, 1999]</span>
<p>A. Nobody. A paper listed but never cited. 1999.</p></div>"""

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
    assert problems["A lost image"] == ["did not load"]
    assert any("missing.png" in line and "404" in line for line in found["logged"])


def test_what_a_reader_clicks_is_checked(report):
    found = report[0]["defects.html"][1280]
    assert found["solutions"] == [
        {"solution": "Solution to Exercise 6", "problem": "shown before a click"},
        {"solution": "Solution to Exercise 7 show", "problem": "still hidden after a click"}]
    [animation] = found["animations"]
    problems = animation["problems"]
    assert any(p.startswith("input range cut off") for p in problems)  # the slider, in 200 px
    assert '"Next frame" does not change the frame' in problems
    assert "moving the slider does not change the frame" in problems


def test_numbering_references_paths_and_links_are_checked(report):
    found = report[0]["defects.html"][1280]
    assert found["doubled_refs"] == ["exercise Exercise 3", "exercise Exercise 7"]  # the second in a closed solution
    assert found["exercise_numbers"] == [{"expected": "1", "found": "6"}, {"expected": "2", "found": "7"}]
    assert found["local_paths"] == ["/root/.cache/gentut/classifiers/x.pt"]
    assert found["citation_labels"] == ["ACB17"]
    assert found["uncited_entries"] == ["A. Nobody. A paper listed but never cited. 1999."]
    assert found["broken_links"] == [{"to": "missing.html", "text": "a missing page"},
                                     {"to": "clean.html#no-such-anchor", "text": "a missing anchor"}]


def test_an_equation_wider_than_its_column_is_found(report):
    found, mathjax, _ = report
    if mathjax is None:
        pytest.skip(f"no local MathJax in {MATHJAX} (`make browser` unpacks it): equations are not typeset")
    wide = found["wide.html"][1280]["wide_math"]
    assert len(wide) == 1 and wide[0]["width"] > wide[0]["column"]


def test_every_page_is_saved_as_a_screenshot_of_the_whole_page(report):
    shots = report[2]
    assert sorted(p.name for p in shots.iterdir()) == ["clean-1280.png", "defects-1280.png", "wide-1280.png"]
    header = (shots / "defects-1280.png").read_bytes()[:24]
    assert header[:8] == bytes.fromhex("89504e470d0a1a0a")
    width = int.from_bytes(header[16:20], "big")
    assert width >= 2000  # the whole page, including the block that is wider than the window


# The defects a reader met in the rendered book before the real-data revision (issue 9), put back
# into a copy of the book as built now: page -> [(text in the built page, what replaces it)].
BUILT = Path(__file__).resolve().parents[1] / "_build" / "html"
LONG_CODE = ('<p><code class="docutils literal notranslate"><span class="pre">'
             'gentut.metrics.a_function_name_far_too_long_for_a_phone_to_show_on_one_line()</span></code></p>')
WIDE_TEX = "\\[ " + " + ".join(f"a_{{{i}}}" for i in range(40)) + " \\]"
PUT_BACK = {
    "book/introduction/generative_models.html": [
        # An inline $...$ that Markdown broke: the reader sees the TeX.
        ('<span class="math notranslate nohighlight">\\(p_\\text{data}\\)</span>', "$p_\\text{data}$"),
        # A long inline code name that widens a phone's page (with the style rule that wraps it
        # taken out, below).
        ('title="Link to this heading">#</a></h1>', 'title="Link to this heading">#</a></h1>' + LONG_CODE),
    ],
    "_static/gentut.css": [("white-space: pre-wrap;", ""), ("overflow-wrap: anywhere;", "")],
    "book/vae/vae.html": [
        ('<div class="math notranslate nohighlight">', '<div class="math notranslate nohighlight">' + WIDE_TEX),
        # Alt text that is the image's path, and a figure drawn at a third of its size.
        ('<img alt="Two rows of ten clothing images: grey originals and speckled black-and-white copies." src="',
         '<img style="width: 30%" alt="../../_images/first.png" src="'),
    ],
    "book/gan/gan.html": [
        ('<span class="caption-number">Exercise 4.1 </span>', '<span class="caption-number">Exercise 18 </span>'),
        ('<section id="a-game-instead-of-a-likelihood">',
         '<p>See exercise <a class="reference internal" href="#gan-ex-d-loss">Exercise 4.1</a> and '
         '<a class="reference internal" href="../future/future.html">the chapter to come</a>.</p>'
         '<section id="a-game-instead-of-a-likelihood">'),
        ('<div class="solution dropdown admonition"', '<div class="solution admonition"'),
        (".animation input[type=range].anim-slider {", "input[type=range].anim-slider {"),
        ("</head>", '<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/4.4.0/'
                    'css/font-awesome.min.css"></head>'),
        ('<script>const THEBE_JS_URL', '<script>const THEBE_JS_URL = 1;</script><script>const THEBE_JS_URL'),
        ("<pre><span></span>gentut 0.1.0", "<pre><span></span>/root/.cache/gentut/run.pt gentut 0.1.0"),
        ("Arjovsky &amp; Bottou, 2017<span", "ACB17<span"),
    ],
    "book/bibliography.html": [
        ('<div class="citation" id="id55" role="doc-biblioentry">',
         '<div class="citation" id="planted" role="doc-biblioentry"><span class="label">[Nobody, 1999]</span>'
         '<p>A. Nobody. A work listed and cited by no chapter. 1999.</p></div>'
         '<div class="citation" id="id55" role="doc-biblioentry">'),
    ],
}


def test_the_defects_of_the_real_data_revision_are_found_when_put_back(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium): the browser check is not tested")
    if not (BUILT / "index.html").is_file():
        pytest.skip(f"the book is not built in {BUILT}: run `make book` first (make test does)")
    mathjax = MATHJAX if (MATHJAX / "es5" / "tex-mml-chtml.js").is_file() else None
    site = tmp_path / "html"
    shutil.copytree(BUILT, site)
    for page, edits in PUT_BACK.items():
        text = (site / page).read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, f"{page} no longer contains {old!r}: update the planted defect"
            text = text.replace(old, new, 1)
        (site / page).write_text(text, encoding="utf-8")
    report = rendered_pages.check_site(site, mathjax, [1280, 390], only=sorted(p for p in PUT_BACK if p.endswith(".html")))
    intro = report["book/introduction/generative_models.html"]
    assert any("$p_\\text{data}$" in t for t in intro[1280]["raw_tex"])
    assert any("a_function_name_far_too_long" in o["text"] for o in intro[390]["overflow"])
    vae = report["book/vae/vae.html"]
    problems = {i["alt"]: i["problems"] for i in vae[1280]["images"]}
    assert "alt text is a file name" in problems["../../_images/first.png"]
    assert any(p.startswith("drawn at 3") for p in problems["../../_images/first.png"])
    if mathjax is not None:
        assert vae[390]["wide_math"] and vae[1280]["wide_math"]
    gan = report["book/gan/gan.html"]
    assert {"expected": "4.1", "found": "18"} in gan[1280]["exercise_numbers"]
    assert gan[1280]["doubled_refs"] == ["exercise Exercise 4"]
    assert {"to": "book/future/future.html", "text": "the chapter to come"} in gan[1280]["broken_links"]
    assert gan[1280]["solutions"][0]["problem"] == "shown before a click"
    assert any("input range cut off" in p for a in gan[390]["animations"] for p in a["problems"])
    logged = "\n".join(gan[1280]["logged"])
    assert "external request: https://cdnjs.cloudflare.com/" in logged
    assert "THEBE_JS_URL" in logged and "already been declared" in logged
    assert gan[1280]["local_paths"] == ["/root/.cache/gentut/run.pt"]
    assert gan[1280]["citation_labels"] == ["ACB17"]
    assert report["book/bibliography.html"][1280]["uncited_entries"] == [
        "A. Nobody. A work listed and cited by no chapter. 1999."]
