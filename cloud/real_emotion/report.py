"""The real-data section of the emotion model's report (``report.md``, ``real_eval.md``): every figure
labelled real or simulated; no real recording has labels, so nothing real is an accuracy."""

from __future__ import annotations

from typing import Any


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def markdown(report: dict[str, Any]) -> str:
    """The real-data section: every figure labelled real or simulated; no label exists for real data."""
    lines = ["## Real recordings (real data, no labels: distribution, saturation and invariance only)", "",
             "No real source has stress or emotion labels: nothing below is an accuracy. *Composite* inputs put "
             "channels of different real recordings side by side (the band sends ECG, EDA and PPG together; no "
             "real source has all three): real signals throughout, but no verdict about a person.", "",
             "| recording | composite | windows | not analysed | baseline / stress / amusement (share) | top p "
             "median / max | at rail | invariance flips (clear) |", "| --- " * 8 + "|"]
    for r in report["real"]["recordings"]:
        skipped = "; ".join(f"{k} x{v}" for k, v in r["not_analysed"].items()) or r.get("note", "-")
        if "outputs" not in r:
            lines.append(f"| {r['recording']} | {'yes' if r['composite'] else 'no'} | 0 | {skipped} | - | - | - | - |")
            continue
        o = r["outputs"]
        shares = " / ".join(f"{v:.2f}" for v in o["class_share"].values())
        top = o["top_probability"]
        flips = sum(c["flips"] for c in r["invariance"])
        clear = sum(c["clear_flips"] for c in r["invariance"])
        checks = sum(c["windows"] for c in r["invariance"])
        lines.append(f"| {r['recording']} | {'yes' if r['composite'] else 'no'} | {o['windows']} | {skipped} | "
                     f"{shares} | {top['median']:.3f} / {top['max']:.3f} | {_pct(top['share_at_rail'])} | "
                     f"{flips} of {checks} ({clear} clear) |")
    inv = report["real"]["invariance"]
    lines += ["", "Invariance: each analysed recording re-run with its PPG, its EDA, and both, scaled x0.01, x0.1, x10 "
              "and x100 with an offset of three times the scaled span, through the wire's int16 frames; a flip is "
              "a window whose class changed, *clear* where its top two classes were more than 0.1 apart. "
              f"Largest change of any class probability: {inv['max_probability_change']}; flips at near-ties: "
              f"{inv['flips_at_near_ties']}.", "", "## Floors", "", "| floor | value | floor | pass |",
              "| --- | --- | --- | --- |"]
    for name, f in report["floors"].items():
        value = "n/a" if f["value"] is None else f"{f['value']:.4g}"
        lines.append(f"| {name} | {value} | {f['floor']} | {'not measured' if f['pass'] is None else f['pass']} |")
    hold = report["simulated"]["holdout"]
    if hold:
        lines += ["", f"Simulated hold-out ({hold['windows']} windows, simulated data): accuracy "
                  f"{_pct(hold['accuracy'])}, stress vs not {_pct(hold['stress_vs_not_accuracy'])}."]
    return "\n".join(lines) + "\n"
