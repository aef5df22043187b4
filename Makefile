# RefundReady: `make run` serves the demo, `make test` runs every test. See README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test install system-deps lint bench clean

$(BIN)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	touch $@

install: $(BIN)/.installed

# Debian packages the tests use: Chromium for the browser tests, Pango for WeasyPrint's PDFs.
system-deps:
	@bash scripts/system-deps.sh

run: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py run_demo --port $(PORT)

# Two pytest-xdist workers, one test module each at a time (a module's browser session, worker and fixtures stay
# together); each worker has its own data directory, Redis databases and test database (refundready/testenv.py).
# XDIST= runs in one process.
XDIST ?= -n 2 --dist loadfile

test: install system-deps
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/cape.py

clean:
	rm -rf data/test data/broker
