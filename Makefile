# The two commands of the README: `make demo` (the whole system with sample data) and `make test`.
# Both create .venv and install the project into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo up test install test-deps

$(BIN)/hotline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/hotline

install: $(BIN)/hotline

demo: install
	$(BIN)/hotline demo

up: install
	$(BIN)/hotline up

# Debian's Chromium and a CJK font for the browser tests, docker-compose to validate docker-compose.yml.
test-deps:
	@command -v chromium >/dev/null && command -v docker-compose >/dev/null && fc-list :lang=zh | grep -q . || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium docker-compose fonts-wqy-zenhei >/dev/null; }

test: install test-deps
	$(BIN)/python -m pytest -q
