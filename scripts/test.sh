#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every test: unit tests, notebook
# execution and real-browser tests. Extra arguments go to pytest,
# e.g. bash scripts/test.sh tests/test_packaging.py -x
set -euo pipefail

cd "$(dirname "$0")/.."
bash scripts/setup.sh

export MPLBACKEND=Agg

rc=0
.venv/bin/python -m pytest -p no:cacheprovider "$@" || rc=$?
if [ "$rc" = 5 ]; then
    echo "test.sh: pytest collected no tests (exit 5) - treating as failure" >&2
    exit 1
fi
exit "$rc"
