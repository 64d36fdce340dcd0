# Set-up and the two everyday commands: `make run` (cluster the built-in digits) and `make test`.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch that lies on our machines' disk; override for a GPU build.
TORCH_SPEC ?= torch==2.13.0
BIN = $(VENV)/bin

.PHONY: install run test lint clean

$(BIN)/deepclust: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/deepclust

run: install
	$(BIN)/deepclust fit --data digits --out runs/digits --overwrite

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) runs .pytest_cache
