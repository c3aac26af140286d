# Targets named in the README. `make test` installs what is missing, then runs every test.
PYTHON ?= python3
STAMP := .deps-installed

.PHONY: deps test lint typecheck unit info clean

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

# Start one worker and print what it reports: a quick check that the install works.
info: $(STAMP)
	$(PYTHON) -m signaling.cli info

clean:
	rm -f $(STAMP)
