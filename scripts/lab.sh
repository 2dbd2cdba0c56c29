#!/usr/bin/env bash
# Set up (scripts/setup.sh) and open JupyterLab on notebooks/.
# Extra arguments go to `jupyter lab`, e.g. bash scripts/lab.sh --no-browser
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/setup.sh

extra=()
if [ "$(id -u)" = 0 ]; then
    extra+=(--allow-root)
fi
exec .venv/bin/jupyter lab notebooks/ "${extra[@]}" "$@"
