#!/usr/bin/env bash
# Installs the system into .venv and runs the whole thing: simulators, an edge node, the gateway,
# the SQLite store and the live page on http://localhost:8080, on an embedded MQTT broker.
# Extra arguments go to `iomt demo` (e.g. --patients 20 --duration 60 --summary summary.json).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv "edge,gateway,sim"
exec .venv/bin/iomt demo "$@"
