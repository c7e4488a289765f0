# One command each: `make demo` runs the app with a demo campaign; `make test` runs every test.
# Debian's own python3 when present: it runs the app 11-25 % faster than a locally built one.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
AXE_VERSION := 4.14.1
AXE := .cache/axe/node_modules/axe-core/axe.min.js
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: system-deps pdf-test-deps demo test test-fast lint chaos bench serve translations browser-deps clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d survey/translations -D messages >/dev/null

demo: $(VENV)/.installed translations system-deps
	$(BIN)/par-survey demo

serve: $(VENV)/.installed translations
	$(BIN)/par-survey db upgrade
	$(BIN)/gunicorn --workers $${WORKERS:-4} --bind $${BIND:-127.0.0.1:8000} 'survey:create_app()'

# Headless Chromium from Debian and axe-core from npm for the browser tests. A failure here is
# reported, and the browser tests then skip with the reason; everything else still runs.
# Debian packages the app needs: a Unicode font for the PDF cards and paper forms; and for the
# tests, pdftotext (poppler-utils) to read back the text of the PDFs they make.
system-deps:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null) \
	  || echo "WARNING: could not install fonts-dejavu-core; PDF cards and paper forms will fail"

pdf-test-deps:
	@command -v pdftotext >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null) \
	  || echo "WARNING: could not install poppler-utils; the PDF text checks will be skipped"

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; browser tests will be skipped"; }
	@test -f $(AXE) || (mkdir -p .cache/axe && npm install --silent --no-audit --no-fund \
	  --prefix .cache/axe axe-core@$(AXE_VERSION) >/dev/null) \
	  || echo "WARNING: could not install axe-core; accessibility audits will be skipped"

# Guard rails (configured in pyproject.toml): lint, types (strict on the pure packages), layering.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy --strict questionnaires sampling analysis
	$(BIN)/mypy survey
	$(BIN)/lint-imports

test: $(VENV)/.installed lint translations system-deps pdf-test-deps browser-deps
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed translations
	PAR_SURVEY_SKIP_BROWSER=1 $(BIN)/python -m pytest -q -x

# Fault tests that kill gunicorn workers under load (minutes; PostgreSQL required).
chaos: $(VENV)/.installed translations
	PAR_SURVEY_TEST_DATABASE_URL=$${PAR_SURVEY_TEST_DATABASE_URL:-$(PG_URL)} \
	  $(BIN)/python -m pytest -q -m chaos -p no:cacheprovider -s tests/chaos

bench: $(VENV)/.installed translations
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .cache .pytest_cache instance
