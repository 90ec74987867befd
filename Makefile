# engagement — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app

.PHONY: run test bench lint install install-dev translations chromium db clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime translations

install-dev: $(VENV)/.dev translations

# Compiled catalogues are build output, made from the .po files each feature keeps.
translations: | $(VENV)/.runtime
	@for d in $$(find engagement -type d -name translations); do \
		$(BIN)/pybabel -q compile -d $$d || exit 1; done

db: install
	$(FLASK) db upgrade

# The mail worker runs beside the web server, so queued mail goes out (or to
# instance/mail/*.eml without MAIL_SERVER) while you click through the demo; the
# retention purge runs beside them.
run: db
	$(FLASK) seed-demo --if-empty
	$(FLASK) send-outbox --loop & worker=$$!; \
	$(FLASK) purge --loop & purger=$$!; \
	trap 'kill $$worker $$purger 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port 5000

# Browser tests drive Debian's Chromium; install it when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

test: install-dev chromium
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install-dev
	$(BIN)/ruff check engagement tests bench app.py

clean:
	rm -rf $(VENV) instance/engagement.sqlite3
