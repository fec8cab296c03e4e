"""Configuration of the image store (section ``[gateway.imaging]``, or ``IOMT_GATEWAY__IMAGING__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from iomt.config import StrictModel


class ImagingConfig(StrictModel):
    require_encryption: bool = Field(
        True, description="Refuse (dead-letter) an imaging payload that is not sealed end to end with its "
        "device's key. Turn off only for legacy devices that cannot encrypt; their images are still encrypted "
        "at rest."
    )
    store_dir: Path | None = Field(
        None, description="Directory of the encrypted image and mask files and their index (images.sqlite); "
        "default: 'images' beside the gateway's SQLite file (db_path), whichever time-series backend is used."
    )
    storage_key_file: Path | None = Field(
        None, description="The gateway's storage key (AES-256, hex, created 0600 on first use) that encrypts images "
        "and masks at rest; default: images.key beside store_dir. Keep it apart from backups of the images."
    )
    max_image_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest imaging payload accepted (bytes, sealed)."
    )
    key_cache_s: float = Field(
        300.0, ge=0, le=86_400, description="How long device keys read from the registry stay in memory (a "
        "rotated key has a new key_id, so it is never stale; this bounds how long a deleted key still opens)."
    )

    def directory(self, db_path: Path) -> Path:
        return self.store_dir if self.store_dir is not None else db_path.parent / "images"

    def key_file(self, db_path: Path) -> Path:
        if self.storage_key_file is not None:
            return self.storage_key_file
        return self.directory(db_path).parent / "images.key"
