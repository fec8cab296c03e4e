"""Committed reports name files portably, never by this machine's absolute path."""

from __future__ import annotations

from pathlib import Path

from cloud.report_paths import shown_path


def test_a_file_of_an_installed_package_is_named_from_the_package() -> None:
    p = Path("/opt/venv/lib/python3.11/site-packages/pydicom/data/test_files/US1_J2KR.dcm")
    assert shown_path(p) == "pydicom/data/test_files/US1_J2KR.dcm"


def test_a_file_of_the_repository_is_relative_to_its_root_and_anything_else_is_its_name() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert shown_path(repo / "models" / "ecg" / "ecg.tflite") == "models/ecg/ecg.tflite"
    assert shown_path("/somewhere/else/recording.csv") == "recording.csv"
