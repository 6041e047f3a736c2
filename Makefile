# Every target bootstraps what it needs: a fresh machine only needs Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
PYTEST_ARGS ?=

.PHONY: install test test-slow lint dev clean sam-tools bench

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tsuzuri needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# aws-sam-cli pins its own dependencies, so it lives in a tool venv of its own.
sam-tools: $(SAM)

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli>=1.120,<2'

test: install sam-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Long property and load suites, kept out of `make test` so it stays under 10 minutes.
test-slow: install
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# Both handlers are modules named app: one mypy run each.
	$(BIN)/mypy functions/render/app.py
	$(BIN)/mypy functions/related/app.py
	$(BIN)/cfn-lint template.yaml

dev: install
	$(BIN)/tsuzuri dev

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# Jekyll 4 (with the feed, seo-tag, sitemap and paginate plugins) and Hugo from Debian,
# installed when run as root, then a full build of the same corpus with each.
# Peers still missing are skipped. Quick check: make bench-peers PEERS_ARGS="--posts 100 --runs 1"
PEER_PACKAGES := jekyll hugo ruby-jekyll-feed ruby-jekyll-seo-tag ruby-jekyll-sitemap ruby-jekyll-paginate
PEERS_ARGS ?= --posts 2500 --runs 3

.PHONY: bench-peers
bench-peers: install
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PEER_PACKAGES); \
	else \
		echo "bench-peers: not root (or no apt-get), not installing $(PEER_PACKAGES)"; \
	fi
	$(BIN)/python benchmarks/peers.py $(PEERS_ARGS)

# Lighthouse 12 from npm (into .tools/, never a downloaded browser) against `tsuzuri dev`,
# with Debian's chromium; writes the "Lighthouse" section of docs/benchmarks.md.
LIGHTHOUSE := .tools/node_modules/.bin/lighthouse

AUDIT_ARGS ?=

.PHONY: audit
audit: install $(LIGHTHOUSE)
	CHROME_PATH=$${CHROME_PATH:-/usr/bin/chromium} $(BIN)/python -m benchmarks.audit $(AUDIT_ARGS)

$(LIGHTHOUSE):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund lighthouse@12

# tsuzuri side by side with Jekyll and Hugo on one seeded corpus; writes the generated
# section of docs/benchmarks.md. Full sizes take hours on 2 cores; BENCH_ARGS=--quick
# runs small sizes. Peers that are not installed are skipped (make bench-peers installs them).
BENCH_ARGS ?=

bench: install
	TSUZURI_BENCH_VIA_MAKE=1 $(BIN)/python -m benchmarks.bench $(BENCH_ARGS)
