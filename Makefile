# gentut: build the book, test everything, re-run the notebooks.
#
#   make book      HTML book from the outputs stored in the notebooks -> _build/html/index.html
#   make test      the book build, unit tests, every notebook in _toc.yml in the smoke profile, and
#                  the built pages in a browser (make pages without screenshots)
#   make execute   re-run every notebook in the cpu profile and store its outputs (commit them)
#   make data      make the notebooks' data set available (done by make execute; not needed by make test)
#   make lab       JupyterLab on book/ (jupyterlab-myst renders the chapters' MyST)
#   make lab-check open every chapter in a headless JupyterLab and report MyST shown raw
#   make workbooks write workbooks/<chapter>.ipynb: each chapter with outputs cleared, solutions
#                  taken out and each coding exercise left as a function to write (commit them)
#   make pages     open every built page in headless Chromium (desktop and 390 px) and report
#                  what a reader would see go wrong (tests/rendered_pages.py lists the checks);
#                  screenshots of every page in _build/screenshots
#   make browser   install chromium (apt-get, as root or through sudo) and MathJax 3 (npm) for
#                  make pages where they are missing; make test does this first
#   make clean     remove build outputs (keeps the virtual environment)
#
# The first target that needs it creates a virtual environment in $(VENV) and installs torch
# (pinned, first) and gentut with the book and dev extras into it.

PYTHON ?= python3
VENV ?= .venv
# The tested PyTorch release. pip takes the CPU build unless told otherwise; on a GPU machine
# pass the build for your CUDA driver, e.g.
#   make lab TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
TORCH_SPEC ?= torch==2.13.0
# pytest-xdist workers, each given its share of the cores as torch threads (two workers of two
# threads on two cores wait on each other's threads). On this 2-core machine the unit tests took
# 228 s with two one-thread workers against 333 s in one process of two threads, and the
# notebooks 87 s against 279 s with two-thread kernels. Many tests start subprocesses or wait on
# them, which is where two workers gain most.
UNIT_JOBS ?= 2
NOTEBOOK_JOBS ?= 2
# Torch threads for each of $(1) workers: the machine's cores shared out, at least one.
threads = $$(n=$$(nproc 2>/dev/null || echo 2); t=$$((n / ($(1) > 0 ? $(1) : 1))); echo $$((t > 0 ? t : 1)))
# Upper bound on one notebook cell in the smoke profile, in seconds.
CELL_TIMEOUT ?= 300
# Notebooks for `make execute`; empty means every notebook in _toc.yml.
NOTEBOOKS ?=
# The data set `make execute` runs the notebooks on: fashion-mnist (the stored outputs), mnist, or
# synthetic-digits (needs nothing).
DATASET ?= fashion-mnist

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all install book test unit notebooks data execute check lab lab-check workbooks browser pages pages-check clean

all: book

install: $(STAMP)

# Re-installs when pyproject.toml changes. torch goes first so that pyproject's range leaves it
# alone instead of fetching another build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	echo "$(TORCH_SPEC)" > $@

book: $(STAMP)
	$(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo "The book is in _build/html; open $(CURDIR)/_build/html/index.html"

# The browser tests find the local MathJax copy through GENTUT_MATHJAX, and plant defects into a
# copy of the built book (hence `book` first).
unit: $(STAMP) book
	GENTUT_MATHJAX=$(MATHJAX_DIR)/package OMP_NUM_THREADS=$(call threads,$(UNIT_JOBS)) \
		$(BIN)/python -m pytest -n $(UNIT_JOBS) tests

# Each notebook runs on its own kernel; --dist loadscope keeps a notebook's cells on one worker.
notebooks: $(STAMP)
	OMP_NUM_THREADS=$(call threads,$(NOTEBOOK_JOBS)) GENTUT_PROFILE=smoke $(BIN)/python -m pytest --nbval-lax \
		--nbval-cell-timeout=$(CELL_TIMEOUT) -n $(NOTEBOOK_JOBS) --dist loadscope \
		$$($(BIN)/python -m gentut.notebooks list)

# The book is built first: it takes seconds, fails fast, and the browser tests among the unit
# tests plant defects into a copy of it.
test: browser book unit notebooks pages-check

# Files already on the machine first; then Debian's package where apt-get can be used (as root,
# or through sudo without a password); then the download. If all fail, the message names the ways.
data: $(STAMP)
	@if [ "$(DATASET)" = synthetic-digits ]; then exit 0; fi; \
	if GENTUT_OFFLINE=1 $(BIN)/python -m gentut.data fetch $(DATASET) >/dev/null 2>&1; then \
		echo "$(DATASET) is on this machine"; exit 0; fi; \
	if [ "$(DATASET)" = fashion-mnist ] && command -v apt-get >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y dataset-fashion-mnist || true; \
		elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
			sudo -n apt-get install -y dataset-fashion-mnist || true; fi; fi; \
	$(BIN)/python -m gentut.data fetch $(DATASET)

execute: data
	GENTUT_DATASET=$(DATASET) $(BIN)/python -m gentut.notebooks execute $(NOTEBOOKS)

check: $(STAMP)
	$(BIN)/python -m gentut.notebooks check

lab: $(STAMP)
	$(BIN)/jupyter lab book/

lab-check: $(STAMP) browser
	$(BIN)/python tests/lab_view.py $$($(BIN)/python -m gentut.notebooks list) --screenshot _build/screenshots

workbooks: $(STAMP)
	$(BIN)/python -m gentut.workbooks write

# The browser check needs chromium (Debian's package) and a local MathJax 3 (from npm's registry)
# so that equations are typeset offline as a reader's browser would. `browser` installs what is
# missing where it can and says what it could not; without chromium the check is skipped, loudly.
CHROMIUM ?= chromium
MATHJAX_DIR ?= $(HOME)/.cache/gentut/mathjax3
MATHJAX_JS := $(MATHJAX_DIR)/package/es5/tex-mml-chtml.js
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
		else exit 0; fi; \
		echo "installing chromium (apt-get) for the browser check"; \
		$$sudo apt-get install -y -q chromium >/dev/null 2>&1 || { $$sudo apt-get update -q >/dev/null 2>&1 && \
		$$sudo apt-get install -y -q chromium >/dev/null 2>&1; } || echo "apt-get could not install chromium"; }
	@test -f $(MATHJAX_JS) || ! command -v npm >/dev/null 2>&1 || { mkdir -p $(MATHJAX_DIR) && \
		cd $(MATHJAX_DIR) && npm pack --silent mathjax@3 >/dev/null 2>&1 && tar xzf mathjax-*.tgz; } || \
		echo "npm could not fetch MathJax 3: equation widths will not be checked"

PAGES_ARGS = _build/html --chromium $(CHROMIUM) $$(test -f $(MATHJAX_JS) && echo --mathjax $(MATHJAX_DIR)/package)
pages: book browser
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { echo "no chromium: install it (apt-get install -y chromium)"; exit 1; }
	$(BIN)/python tests/rendered_pages.py $(PAGES_ARGS) --screenshots _build/screenshots

# make test's part: the same check without the screenshots (they double its time); skipped with a
# message on a machine where chromium could not be installed.
pages-check: book browser
	@if command -v $(CHROMIUM) >/dev/null 2>&1; then $(BIN)/python tests/rendered_pages.py $(PAGES_ARGS); \
	else echo "SKIPPED: the browser check of the built pages (no chromium; apt-get install -y chromium)"; fi

clean:
	rm -rf _build .pytest_cache
	find gentut tests book -name __pycache__ -type d -prune -exec rm -rf {} +
