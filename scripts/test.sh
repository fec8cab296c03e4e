#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (Debian packages for
# the real services they start, Python packages in .venv), then ruff, mypy, the layer rules
# (lint-imports) and pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" or scripts/test.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")/.."

# Services the tests start themselves on free ports: mosquitto (MQTT), influxd (InfluxDB 1.x),
# chromium (dashboard browser tests).
need=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need+=(mosquitto)
command -v influxd >/dev/null || need+=(influxdb)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

. scripts/venv.sh
ensure_venv "edge,gateway,sim,cloud,dev"

echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== layer rules"; .venv/bin/lint-imports
echo "== pytest"; .venv/bin/python -m pytest "$@"
