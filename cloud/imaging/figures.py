"""The imaging report's figures, each labelled with where its images come from (simulated or real)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cloud.imaging.data import ImagingDataset
    from cloud.imaging.evaluation import SplitResult


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def simulated(path: Path, ds: ImagingDataset, split: str, result: SplitResult, per_row: int = 6) -> None:
    """Held-out simulated images: reference outline green, int8 prediction red; Dice and HD95 (mm)."""
    plt = _plt()
    rng = np.random.default_rng(3)
    picks: list[int] = []
    for modality in ("ultrasound", "xray"):
        is_mod = ds.modality[split] == modality
        has = np.asarray([s.has_lesion for s in result.scores])
        for members, k in ((np.flatnonzero(is_mod & has), 4), (np.flatnonzero(is_mod & ~has), 2)):
            picks.extend(rng.choice(members, size=min(k, len(members)), replace=False).tolist())
    rows = -(-len(picks) // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(2.3 * per_row, 2.5 * rows + 0.4))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), picks, strict=False):
        s = result.scores[i]
        ax.imshow(ds.images[split][i], cmap="gray", vmin=0, vmax=255)
        if ds.masks[split][i].any():
            ax.contour(ds.masks[split][i], [0.5], colors="lime", linewidths=0.8)
        if result.masks[i].any():
            ax.contour(result.masks[i], [0.5], colors="red", linewidths=0.8)
        hd = "" if s.hd95_mm is None else f" HD95 {s.hd95_mm:.1f} mm"
        ax.set_title(f"{ds.modality[split][i]}\nDice {s.dice:.2f}{hd}", fontsize=7)
    fig.suptitle("SIMULATED phantoms, held-out devices: reference (green) vs int8 model (red)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def real(path: Path, outputs: list[dict[str, Any]], per_row: int = 4) -> None:
    """Real ultrasound images with the int8 model's findings (red); no reference exists."""
    plt = _plt()
    rows = -(-len(outputs) // per_row)
    fig, axes = plt.subplots(rows, per_row, figsize=(3.6 * per_row, 3.0 * rows + 0.5))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, r in zip(np.atleast_1d(axes).ravel(), outputs, strict=False):
        ax.imshow(r["_pixels"], cmap="gray", vmin=0, vmax=255)
        if r["_mask"].any():
            ax.contour(r["_mask"], [0.5], colors="red", linewidths=0.8)
        conf = ", ".join(f"{c:.2f}" for c in r["confidences"][:3])
        ax.set_title(f"{r['name'][:34]}\n{r['lesions']} found{' (conf ' + conf + ')' if conf else ''}", fontsize=7)
    fig.suptitle("REAL ultrasound (pydicom / itk-pocus samples), no ground truth: int8 model's findings in red",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def roc_curve(path: Path, roc: dict[str, Any]) -> None:
    plt = _plt()
    pts = np.asarray([(1 - spec, sens) for _, sens, spec in roc["points"]])
    fig, ax = plt.subplots(figsize=(4.2, 4))
    order = np.argsort(pts[:, 0], kind="stable")
    ax.plot(pts[order, 0], pts[order, 1], "-", lw=1.2)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("1 - specificity (images without a lesion)")
    ax.set_ylabel("sensitivity (images with a lesion)")
    auc = roc.get("auc")
    ax.set_title(f"SIMULATED, int8: finding rule's min area swept\nAUC {auc:.4f}" if auc else "ROC", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
