"""The audit chain: appends verify; altering, deleting (middle or end), inserting or reordering an
entry is detected and the first bad entry named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.audit import AuditLog


def _log(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite")
    for i in range(n):
        log.append(f"user:u{i}", "alert.acknowledge", f"alert-{i}", {"i": i, "note": "ok"})
    return log


def _raw(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)


def test_an_untouched_chain_verifies_and_survives_reopening(tmp_path: Path) -> None:
    log = _log(tmp_path)
    result = log.verify()
    assert result.ok and result.entries == 5 and result.problem is None
    log.close()
    again = AuditLog(tmp_path / "audit.sqlite")
    again.append("system", "login", "user:ann")
    assert again.verify().ok and again.verify().entries == 6
    assert [e.seq for e in again.entries()] == [1, 2, 3, 4, 5, 6]
    assert again.entries()[0].detail == {"i": 0, "note": "ok"}


def test_an_altered_entry_is_named(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _raw(tmp_path).execute("UPDATE audit SET actor = 'user:mallory' WHERE seq = 3")
    result = log.verify()
    assert not result.ok and result.bad_seq == 3 and "altered" in (result.problem or "")


def test_an_altered_detail_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _raw(tmp_path).execute("""UPDATE audit SET detail = '{"i":1,"note":"forged"}' WHERE seq = 2""")
    assert log.verify().bad_seq == 2


def test_a_deleted_middle_entry_is_detected(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _raw(tmp_path).execute("DELETE FROM audit WHERE seq = 2")
    result = log.verify()
    assert not result.ok and result.bad_seq == 2 and "missing" in (result.problem or "")


def test_deleting_the_newest_entries_is_detected_by_the_head(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _raw(tmp_path).execute("DELETE FROM audit WHERE seq >= 4")
    result = log.verify()
    assert not result.ok and result.entries == 3 and "removed from the end" in (result.problem or "")


def test_a_rehashed_forgery_still_breaks_the_link_to_the_next_entry(tmp_path: Path) -> None:
    from gateway.audit import entry_hash

    log = _log(tmp_path)
    db = _raw(tmp_path)
    seq, t_us, _actor, action, target, detail, prev = db.execute(
        "SELECT seq, t_us, actor, action, target, detail, prev_hash FROM audit WHERE seq = 2").fetchone()
    forged = entry_hash(seq, t_us, "user:mallory", action, target, detail, prev)
    db.execute("UPDATE audit SET actor = 'user:mallory', hash = ? WHERE seq = 2", (forged,))
    result = log.verify()
    assert not result.ok and result.bad_seq == 3 and "does not follow" in (result.problem or "")


@pytest.mark.parametrize(("args", "field"), [
    (("", "login", "x"), "actor"), (("user:a", "", "x"), "action"), (("user:a", "login", ""), "target"),
])
def test_empty_fields_are_refused(tmp_path: Path, args: tuple[str, str, str], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AuditLog(tmp_path / "a.sqlite").append(*args)


def test_detail_must_be_plain_json(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain JSON"):
        AuditLog(tmp_path / "a.sqlite").append("user:a", "x", "y", {"v": float("nan")})
