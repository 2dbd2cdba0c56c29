#!/usr/bin/env bash
# Set up the lab in ./.venv: python deps (pip install -e ".[lab,test]"),
# system tools (graphviz `dot`, chromium) when we are allowed to install them,
# and JupyterLab settings (no news/update pop-ups).
# Idempotent: a second run only checks and exits quickly.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO="$(pwd)"
VENV="$REPO/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.labkit-setup-stamp"

say() { printf 'setup: %s\n' "$*"; }

# --- python venv -----------------------------------------------------------
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup: python3 >= 3.11 is required (found: $(python3 --version 2>&1 || echo none))" >&2
    exit 1
fi
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
    say "created .venv ($("$PY" --version))"
else
    say ".venv present ($("$PY" --version))"
fi

# --- python packages ---------------------------------------------------------
# Reinstall only when pyproject.toml changed, or when the editable install
# predates the labkit package directory (setuptools maps packages at install).
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1) $("$PY" -c 'import sys; print(sys.version.split()[0])')"
need_pip=1
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    need_pip=0
    if [ -f labkit/__init__.py ] &&
       ! (cd / && "$PY" -c 'import labkit' >/dev/null 2>&1); then
        need_pip=1
    fi
fi
if [ "$need_pip" = 1 ]; then
    t0=$SECONDS
    # (drop pip's noise about index locations configured but absent here)
    "$PY" -m pip install -q --disable-pip-version-check -e ".[lab,test]" \
        2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
    echo "$want" > "$STAMP"
    say "installed labkit (editable) with [lab,test] extras ($((SECONDS - t0))s)"
else
    say "python packages up to date"
fi

# --- system tools: graphviz (dot) and chromium ------------------------------
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=()
    can_apt=0
    if command -v apt-get >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            can_apt=1
        elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
            can_apt=1
        fi
    fi
    if [ "$can_apt" = 1 ]; then
        say "installing ${missing[*]} with apt-get"
        apt_opts=(-o DPkg::Lock::Timeout=300 -q)
        if "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update >/dev/null &&
           "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y \
               --no-install-recommends "${missing[@]}" >/dev/null; then
            missing=()
            command -v dot >/dev/null 2>&1 || missing+=(graphviz)
            [ -x /usr/bin/chromium ] || missing+=(chromium)
            command -v npm >/dev/null 2>&1 || missing+=(npm)
        else
            say "apt-get failed"
        fi
    fi
fi
for pkg in "${missing[@]}"; do
    case "$pkg" in
        graphviz) say "NOTICE: graphviz 'dot' not available: lock-graph views fall back to matplotlib and dot tests are skipped (install: apt-get install graphviz)" ;;
        chromium) say "NOTICE: chromium not available: browser tests (-m browser) are skipped (install: apt-get install chromium)" ;;
        npm) say "NOTICE: npm not available: python -m labkit site / slides / lite cannot build and their tests are skipped (install: apt-get install npm)" ;;
    esac
done
if [ "${#missing[@]}" = 0 ]; then
    say "system tools present: dot, chromium, npm"
fi

# --- front-end files for the offline site and slides (web/package-lock.json) ---
# require.js, the widget manager and reveal.js, from the npm registry at the
# versions in the lock file; again only when the lock file changed.
if command -v npm >/dev/null 2>&1 && [ -f web/package-lock.json ]; then
    lock="$(sha256sum web/package-lock.json | cut -d' ' -f1)"
    if [ -f web/node_modules/.labkit-stamp ] && [ "$(cat web/node_modules/.labkit-stamp)" = "$lock" ]; then
        say "web/node_modules up to date"
    else
        t0=$SECONDS
        (cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
        echo "$lock" > web/node_modules/.labkit-stamp
        say "installed web/node_modules with npm ci ($((SECONDS - t0))s)"
    fi
fi

# --- JupyterLab settings override --------------------------------------------
"$PY" - "$VENV/share/jupyter/lab/settings/overrides.json" <<'PYEOF'
import json, sys
from pathlib import Path

path = Path(sys.argv[1])
want = {"@jupyterlab/apputils-extension:notification":
        {"fetchNews": "false", "checkForUpdates": False}}
try:
    data = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(data, dict):
        data = {}
except ValueError:
    data = {}
merged = dict(data)
for plugin, settings in want.items():
    cur = merged.get(plugin)
    merged[plugin] = {**(cur if isinstance(cur, dict) else {}), **settings}
if merged != data or not path.exists():
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"setup: wrote JupyterLab overrides ({path.relative_to(Path.cwd())})")
else:
    print("setup: JupyterLab overrides up to date")
PYEOF
