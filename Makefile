# Sunclock: `make demo` runs it on embedded defaults, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PRISM_DIR := .cache/prism

.PHONY: demo test install lint bench clean

$(BIN)/sunclock: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Bytecode for the checkout's own modules too: pip compiles the packages it
# installs but not an editable project, and where PYTHONDONTWRITEBYTECODE is
# set every start would compile them again before its first sweep.
install: $(BIN)/sunclock
	@$(BIN)/python -m compileall -q monitor alerts rules >/dev/null

demo: install
	$(BIN)/sunclock serve --demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/bench_register.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis test-artifacts
