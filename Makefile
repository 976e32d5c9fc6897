# Warden: `make run` starts the portal, `make test` runs the whole suite, `make bench` the benchmarks.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Starts the embedded PostgreSQL and Redis for the command when DATABASE_URL / REDIS_URL are unset.
WITH_SERVICES := $(PY) -m config.embedded run --
PYTEST_ARGS ?=
RUN_ARGS ?=
NAME ?=

.PHONY: run test bench install chromium

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(WITH_SERVICES) $(PY) manage.py run_portal $(RUN_ARGS)

test: $(STAMP) chromium
	$(WITH_SERVICES) $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(WITH_SERVICES) $(PY) -m tests.bench $(NAME)

# The browser tests drive Debian's Chromium; install it when it is missing (the machines run as root).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
