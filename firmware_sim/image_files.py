"""Real image files as the imaging device's images: DICOM (through ``pydicom``), PNG and JPEG (through
Pillow), each reduced to 8-bit grayscale with its pixel spacing where the file states one.

* DICOM: the pixel data as pydicom decodes it (RGB, YBR converted to RGB, palette colour through its
  lookup table, MONOCHROME1 inverted, more than 8 bits windowed by the file's VOI LUT or to its own
  range), every frame of a multi-frame object up to ``max_frames``. Spacing from ``PixelSpacing`` or
  ``ImagerPixelSpacing`` (mm), else from an ultrasound region (``SequenceOfUltrasoundRegions``:
  ``PhysicalDeltaY``/``X`` in cm, unit code 3) when all regions in cm agree and lie inside the image.
* PNG/JPEG: the luminance; no spacing (the format has none that scanners fill in).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
SUFFIXES = {".dcm": "dicom", ".dicom": "dicom", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg"}


class ImageFileError(ValueError):
    """An image file that cannot be replayed; the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class LoadedImage:
    name: str  # file stem, plus #frame for multi-frame objects
    pixels: np.ndarray  # (height, width) uint8
    spacing_mm: tuple[float, float] | None
    modality: str  # DICOM Modality ("US", "CR" ...) or "" when unknown
    source: Path


def image_paths(path: Path) -> list[Path]:
    """``path`` itself, or the image files directly inside the directory ``path``, sorted."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not found:
            raise ImageFileError(f"{path}: no image files ({', '.join(sorted(SUFFIXES))}) in this directory")
        return found
    if not path.is_file():
        raise ImageFileError(f"{path}: no such file or directory")
    return [path]


def load_images(path: Path, max_frames: int = 1) -> list[LoadedImage]:
    """Every image of ``path`` (a file, or a directory of them); ``max_frames`` frames per multi-frame file."""
    out: list[LoadedImage] = []
    for p in image_paths(path):
        kind = SUFFIXES.get(p.suffix.lower())
        if kind is None:
            raise ImageFileError(f"{p}: unknown image type {p.suffix!r}; expected one of {', '.join(sorted(SUFFIXES))}")
        out.extend(_dicom(p, max_frames) if kind == "dicom" else [_bitmap(p)])
    return out


def _luma(a: np.ndarray) -> np.ndarray:
    from models.preprocessing.imaging import to_gray

    return to_gray(a)


def _bitmap(path: Path) -> LoadedImage:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageFileError(f"{path}: not a readable image ({exc})") from None
    return LoadedImage(path.stem, gray, None, "", path)


def _to_uint8(ds: Any, frame: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, apply_voi_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "PALETTE COLOR":
        frame = apply_color_lut(frame, ds)
        if frame.dtype != np.uint8:  # 16-bit lookup tables
            frame = frame / 257.0
        return _luma(frame)
    if frame.ndim == 3:
        return _luma(frame)
    if frame.dtype == np.uint8 and photometric == "MONOCHROME2":
        return frame
    values = np.asarray(apply_voi_lut(frame, ds) if "WindowCenter" in ds or "VOILUTSequence" in ds else frame,
                        dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    scaled = (values - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(values)
    if photometric == "MONOCHROME1":
        scaled = 255.0 - scaled
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def dicom_spacing(ds: Any, height: int, width: int) -> tuple[float, float] | None:
    """(row, column) spacing in mm that the object states, or None."""
    for tag in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(tag)
        if value is not None and len(value) == 2 and all(float(v) > 0 for v in value):
            return float(value[0]), float(value[1])
    regions = ds.get("SequenceOfUltrasoundRegions")
    if not regions:
        return None
    found = set()
    for r in regions:
        if (r.get("PhysicalUnitsXDirection"), r.get("PhysicalUnitsYDirection")) != (3, 3):
            continue  # a Doppler/ECG strip (seconds, cm/s ...), not the image's tissue region
        inside = (int(r.get("RegionLocationMaxX1", width)) <= width
                  and int(r.get("RegionLocationMaxY1", height)) <= height)
        dx, dy = r.get("PhysicalDeltaX"), r.get("PhysicalDeltaY")
        if not inside or dx is None or dy is None or float(dx) == 0 or float(dy) == 0:
            return None  # regions that do not fit this image (it was resized after they were written)
        found.add((round(abs(float(dy)) * 10.0, 6), round(abs(float(dx)) * 10.0, 6)))
    return found.pop() if len(found) == 1 else None


def _dicom(path: Path, max_frames: int) -> list[LoadedImage]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings(record=True) as caught:  # e.g. a wrong character set: logged, not fatal
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path)
            pixels = ds.pixel_array
    except (InvalidDicomError, OSError, AttributeError, ValueError, RuntimeError) as exc:
        raise ImageFileError(f"{path}: cannot read its DICOM pixel data ({type(exc).__name__}: {exc})") from None
    for w in caught:
        log.info("%s: %s", path.name, w.message)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    stack = pixels if frames > 1 else pixels[None]
    modality = str(ds.get("Modality", ""))
    out = []
    for k in range(min(frames, max_frames)):
        gray = _to_uint8(ds, np.asarray(stack[k]))
        name = path.stem if frames == 1 else f"{path.stem}#{k}"
        out.append(LoadedImage(name, gray, dicom_spacing(ds, *gray.shape), modality, path))
    return out


#: Ultrasound objects among pydicom's test files (its wheel ships them): RGB, palette colour, JPEG 2000,
#: big-endian RGB, and a multi-frame JPEG YBR cine.
PYDICOM_ULTRASOUND = ("examples_rgb_color.dcm", "examples_palette.dcm", "examples_jpeg2k.dcm", "ExplVR_BigEnd.dcm",
                      "examples_ybr_color.dcm")
#: Where ``scripts/fetch_real_images.sh`` puts itk-pocus' test images (PNG/JPEG/DICOM, several probes).
ITK_POCUS_DIR = Path("build/real/itk-pocus")


def real_ultrasound_sources(root: Path = Path(".")) -> list[Path]:
    """The real ultrasound images available offline here: pydicom's (always, with pydicom installed) and
    itk-pocus' (when ``scripts/fetch_real_images.sh`` fetched them)."""
    from pydicom.data import get_testdata_file

    paths = []
    for name in PYDICOM_ULTRASOUND:
        found = get_testdata_file(name)
        if isinstance(found, str):
            paths.append(Path(found))
    pocus = root / ITK_POCUS_DIR
    if pocus.is_dir() and any(p.suffix.lower() in SUFFIXES for p in pocus.iterdir()):
        paths.append(pocus)
    return paths
