"""Figures of the fall evaluation (:mod:`cloud.eval_fall` JSON): every title says whether its
numbers come from real or simulated recordings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

METHODS = (("detector", "detector (int8)"), ("classic_2.5g", "|a|>2.5 g + stillness"),
           ("classic_3.0g", "|a|>3.0 g + stillness"))


def figures(report: dict[str, Any], out: Path) -> list[Path]:
    """Write the PNGs into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        _false_alarms(report["int8"]["real_heldout"], "REAL recordings held out from training",
                      out / "real_heldout_false_alarms.png"),
        _false_alarms(report["int8"]["real_seen_in_training"], "REAL recordings used in training",
                      out / "real_seen_false_alarms.png"),
        _sensitivity(report, out / "simulated_fall_sensitivity.png"),
        _int8_vs_float(report, out / "int8_vs_float.png"),
    ]
    return paths


def _false_alarms(res: dict[str, Any], title: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    groups = sorted(res["groups"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for ax, orientation in zip(axes, ("worn", "rotated"), strict=True):
        width = 0.27
        xs = np.arange(len(groups))
        for k, (method, label) in enumerate(METHODS):
            rates = [res["groups"][g][orientation][method]["per_hour"] or 0.0 for g in groups]
            ci = np.array([res["groups"][g][orientation][method]["per_hour_95ci"] for g in groups])
            err = np.vstack([np.array(rates) - ci[:, 0], ci[:, 1] - np.array(rates)])
            ax.bar(xs + (k - 1) * width, rates, width, yerr=err, capsize=2, label=label)
            for x, g in zip(xs, groups, strict=True):
                n = res["groups"][g][orientation][method]["alarms"]
                ax.text(x + (k - 1) * width, 0.02, str(n), ha="center", va="bottom", fontsize=7)
        hours = [res["groups"][g][orientation]["detector"]["hours"] for g in groups]
        ax.set_xticks(xs, [f"{g}\n{h:.2f} h" for g, h in zip(groups, hours, strict=True)], rotation=30, fontsize=7)
        ax.set_title(f"{orientation} orientation", fontsize=10)
        ax.set_yscale("symlog", linthresh=0.1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("false alarms per hour (95 % Garwood CI; count on the bar)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"False fall alarms per hour on {title} (no falls in them)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


SENSITIVITY_SETS = (
    ("simulated_falls_worn", "SIM: random mount"),
    ("simulated_falls_rotated", "SIM: random mount + another rotation"),
    ("simulated_falls_acc_only", "SIM: accelerometer only"),
    ("spliced_into_real", "SIM fall spliced into REAL trunk recording"),
)


def _sensitivity(report: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    kinds = sorted(report["int8"]["simulated_falls_worn"])
    sets = [(k, label) for k, label in SENSITIVITY_SETS if k in report["int8"]]
    fig, ax = plt.subplots(figsize=(10, 4.4))
    xs = np.arange(len(kinds))
    width = 0.8 / len(sets)
    for k, (key, label) in enumerate(sets):
        vals = [report["int8"][key][kd]["sensitivity"] for kd in kinds]
        n = report["int8"][key][kinds[0]]["falls"]
        ax.bar(xs + (k - (len(sets) - 1) / 2) * width, vals, width, label=f"{label} ({n}/kind)")
    ax.axhline(0.95, color="k", ls="--", lw=1, label="floor 0.95")
    ax.set_xticks(xs, kinds, fontsize=8)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("sensitivity")
    ax.set_title("SIMULATED falls (no real falls exist in any source): sensitivity per kind, int8 model + "
                 "confirmation", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _int8_vs_float(report: dict[str, Any], path: Path) -> Path:
    import matplotlib.pyplot as plt

    kinds = sorted(report["int8"]["simulated_falls_worn"])
    labels = [*kinds, "REAL held-out\nFA/h worn", "REAL held-out\nFA/h rotated", "SIM daily\nFA/h"]
    vals: dict[str, list[float]] = {}
    for q in ("int8", "float"):
        r = report[q]
        vals[q] = [r["simulated_falls_worn"][k]["sensitivity"] for k in kinds] + [
            r["real_heldout"]["groups"]["all"]["worn"]["detector"]["per_hour"],
            r["real_heldout"]["groups"]["all"]["rotated"]["detector"]["per_hour"],
            r["simulated_daily"]["per_hour"],
        ]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    xs = np.arange(len(labels))
    for k, q in enumerate(("float", "int8")):
        ax.bar(xs + (k - 0.5) * 0.38, vals[q], 0.38, label=q)
        for x, v in zip(xs, vals[q], strict=True):
            ax.text(x + (k - 0.5) * 0.38, v, f"{v:.2f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_title("int8 vs float: sensitivity on SIMULATED falls (left), false alarms/h on REAL and SIMULATED "
                 "daily activity (right)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
