#!/usr/bin/env bash
# Installs the system into .venv and runs the whole thing: simulators, an edge node, the gateway,
# the SQLite store and the live page on http://localhost:8080, on an embedded MQTT broker.
# Extra arguments go to `iomt demo` (e.g. --patients 20 --duration 60 --summary summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[edge,gateway,sim]" > .venv/pip-install.log 2>&1; then
    grep -v "^WARNING: Location" .venv/pip-install.log >&2
    echo "pip install failed (log: .venv/pip-install.log)" >&2
    exit 1
fi
exec .venv/bin/iomt demo "$@"
