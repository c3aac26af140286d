# Targets named in the README. `make test` installs what is missing, then runs every test.
PYTHON ?= python3
STAMP := .deps-installed

WEB_SOURCES := $(shell find web/src web/index.html web/protocol-test.html web/vite.config.ts -type f 2>/dev/null)

.PHONY: deps test lint typecheck unit info serve web clean

$(STAMP): pyproject.toml tests/node/package-lock.json scripts/install-deps
	scripts/install-deps
	touch $(STAMP)

deps: $(STAMP)

lint: $(STAMP)
	$(PYTHON) -m ruff check sfu workers signaling tests bench
	$(PYTHON) -m ruff format --check sfu workers signaling tests bench

typecheck: $(STAMP)
	$(PYTHON) -m mypy

# Unit tests only: no worker processes, no Node.
unit: $(STAMP)
	$(PYTHON) -m pytest tests/unit -q

test: $(STAMP)
	$(PYTHON) -m pytest -q

# Build the web app when its sources are newer than the last build.
web/dist/index.html: web/package-lock.json $(WEB_SOURCES)
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	npm run build --prefix web

web: web/dist/index.html

# Run the server with embedded defaults (no Redis, no TURN) on http://127.0.0.1:8080.
serve: $(STAMP) web/dist/index.html
	pysfu serve

# Start one worker and print what it reports: a quick check that the install works.
info: $(STAMP)
	$(PYTHON) -m signaling.cli info

clean:
	rm -f $(STAMP)
