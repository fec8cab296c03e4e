"""The edge install must stay small: no TensorFlow, Keras or other training stack on a Raspberry Pi."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = re.compile(r"^(tensorflow|tensorflow-cpu|tf-nightly|keras|torch|jax|jaxlib)\b", re.IGNORECASE)


def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def test_edge_extra_and_base_pull_no_training_stack() -> None:
    meta = project()
    extras = meta["optional-dependencies"]
    assert isinstance(extras, dict)
    for requirement in [*meta["dependencies"], *extras["edge"]]:  # type: ignore[misc]
        assert not HEAVY.match(requirement), f"{requirement} would be installed on every edge device"


def test_every_tier_has_an_extra_and_the_cli_is_declared() -> None:
    meta = project()
    extras = meta["optional-dependencies"]
    assert isinstance(extras, dict)
    assert {"edge", "gateway", "cloud", "sim", "dev"} <= set(extras)
    assert meta["scripts"] == {"iomt": "iomt_app.cli:main"}  # type: ignore[comparison-overlap]
