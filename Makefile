# The README's two commands: `make demo` and `make test`; and `make docs` (the documentation site).
# The first run creates .venv (torch 2.13.0 CPU build first, then the project with its
# test extras); later runs reuse it and only redo the install when pyproject.toml changes.
# `make docs` adds the docs extra (Sphinx and its extensions) to the same .venv.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed
SITE := docs/site
DOCS_OUT := build/docs

.PHONY: demo test bench docs docs-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/genprior demo

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples docs/site
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q

$(DOCS_STAMP): $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test,docs]'
	touch $(DOCS_STAMP)

# The site, from scratch, with warnings as errors: the gallery's examples run, then every
# doctest of the pages and docstrings (that second build leaves the gallery unexecuted:
# its pages hold no doctests, and the examples ran in the first).
docs: $(DOCS_STAMP)
	rm -rf $(DOCS_OUT) $(SITE)/_autosummary $(SITE)/auto_examples $(SITE)/sg_execution_times.rst
	$(VENV)/bin/sphinx-build -W --keep-going -b html -d $(DOCS_OUT)/doctrees $(SITE) $(DOCS_OUT)/html
	$(VENV)/bin/sphinx-build -W --keep-going -b doctest -D plot_gallery=0 -d $(DOCS_OUT)/doctrees $(SITE) $(DOCS_OUT)/doctest

# The built pages in headless Chromium (Debian's chromium and chromium-driver): screenshots into
# build/docs/screenshots, each checked not to be blank, with its images loaded and formulas typeset.
docs-check: $(DOCS_STAMP)
	$(VENV)/bin/python $(SITE)/check_pages.py $(DOCS_OUT)/html $(DOCS_OUT)/screenshots

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run_all.py
