#!/usr/bin/env bash
# The explorer benchmark with SPIN beside it: installs Debian's spin (and a C
# compiler) with apt-get when it may, then runs `python -m labkit bench`.
# Figures, never assertions; the test command (scripts/test.sh) does not run it.
#
#     bash benchmarks/explorer.sh            # every model, SPIN where it applies
#     bash benchmarks/explorer.sh --quick    # no large models, no SPIN, no start-up figures
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "benchmarks/explorer.sh: $*" >&2; }

[ -x .venv/bin/python ] || bash scripts/setup.sh

missing=()
command -v spin >/dev/null 2>&1 || missing+=(spin)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else SUDO=(false); fi
    fi
    if [ "${SUDO[0]:-}" != false ]; then
        say "installing ${missing[*]} with apt-get"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y \
            --no-install-recommends "${missing[@]}" >/dev/null || say "apt-get failed"
    fi
fi
command -v spin >/dev/null 2>&1 || say "NOTICE: spin not available: the SPIN columns stay empty (install: apt-get install spin)"

exec .venv/bin/python -m labkit bench "$@"
