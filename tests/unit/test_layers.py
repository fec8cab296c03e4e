"""The layer rules hold: import-linter's contracts (pyproject.toml, ``[tool.importlinter]``) are all kept.

scripts/test.sh runs ``lint-imports`` before pytest as well; this test makes a plain pytest run fail
on a broken layer rule too, and names the broken contract and the offending import chain.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_layer_contract_is_kept() -> None:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} is missing: install the dev extra (pip install -e '.[dev]')"
    done = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_issue_s_layer_rules_are_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden: dict[str, set[str]] = {}
    for contract in config["contracts"]:
        assert contract["type"] == "forbidden"
        for source in contract["source_modules"]:
            forbidden.setdefault(source, set()).update(contract["forbidden_modules"])
    assert {"firmware_sim", "edge", "gateway", "cloud", "models"} <= forbidden["iomt"]
    assert {"gateway", "cloud", "firmware_sim", "models.definitions", "tensorflow", "keras"} <= forbidden["edge"]
    assert {"edge", "cloud", "firmware_sim"} <= forbidden["gateway"]
    for tier in ("iomt", "firmware_sim", "edge", "gateway", "cloud", "models"):
        assert {"iomt_app", "benchmarks", "testsupport"} <= forbidden[tier], tier
