.PHONY: setup run test lint

setup:
	./scripts/setup.sh

run: setup
	.venv/bin/rag ui

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check .
