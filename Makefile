# Footfall: `make demo` runs the whole loop on the sample video; `make test` runs every test.
PY := .venv/bin/python
export FOOTFALL_ASSETS ?= $(abspath ../shared)

.PHONY: setup check test test-fast demo bench clean

setup:
	@bash scripts/bootstrap.sh

# Lint, formatting, types and the import layers (pyproject.toml) run before any test, then the
# locked versions are looked up in PyPI's vulnerability data (it needs PyPI to be reachable).
check: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	.venv/bin/lint-imports
	bash scripts/audit.sh

test: check
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

demo: setup
	$(PY) -m scripts.demo

# Each benchmark prints its figures (docs/performance.md, docs/mqtt.md, docs/storage.md, docs/pages.md).
bench: setup
	$(PY) bench/edge_speed.py
	$(PY) bench/edge_letterbox.py
	$(PY) bench/edge_source.py
	$(PY) bench/rtsp_camera.py --run
	$(PY) bench/edge_tiling.py
	$(PY) bench/edge_models.py
	$(PY) bench/edge_fleet.py
	$(PY) bench/calibration.py
	$(PY) bench/transport.py
	$(PY) bench/dashboard_api.py
	$(PY) bench/dashboard_pages.py

clean:
	rm -rf .venv .pytest_cache artifacts
