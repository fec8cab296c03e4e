"""Both stores keep device sessions apart (issue 12, point 5): de-duplication on (device, stream,
boot, seq), so a restarted device's frames are new data; a forged sequence number is stored but
is no gap of billions; loss counters count per session. Part of the shared store contract (each
test runs on SQLite and on a real InfluxDB)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from gateway.store.records import WriteBatch
from gateway.store.sqlite import SqliteStore
from iomt.wire.frames import Reading
from tests.gateway.helpers import T0_US, ecg_frame


def frames(device: str, seqs: range, boot: int, t_from: int = 0) -> list:
    return [dataclasses.replace(ecg_frame(device, s, T0_US + t_from * 1_000_000), boot=boot) for s in seqs]


def test_a_restarted_device_loses_nothing(store):
    first = store.write(WriteBatch(frames=frames("p1", range(50), boot=1)))
    second = store.write(WriteBatch(frames=frames("p1", range(50), boot=2, t_from=100)))
    assert first.stored == second.stored == 50 and second.duplicates == 0
    again = store.write(WriteBatch(frames=frames("p1", range(10), boot=2, t_from=100)))  # a redelivery
    assert again.stored == 0 and again.duplicates == 10
    [stats] = store.stream_stats()
    assert (stats.frames, stats.missing, stats.duplicates, stats.sessions) == (100, 0, 10, 2)
    assert (stats.first_seq, stats.last_seq) == (0, 49)
    assert len(store.stored_sequences("p1", "ecg")) == 100


def test_readings_of_a_restarted_device_are_kept_too(store):
    readings = [Reading("p1", "vitals", s, T0_US + s * 1_000_000, {"hr": 70.0}, boot=b) for b in (5, 6)
                for s in range(3)]
    assert store.write(WriteBatch(readings=readings)).stored == 6
    assert store.write(WriteBatch(readings=readings)).duplicates == 6


def test_a_forged_sequence_number_is_no_gap_of_billions(store):
    store.write(WriteBatch(frames=frames("p1", range(20), boot=3)))
    forged = dataclasses.replace(ecg_frame("p1", 4_000_000_000, T0_US), boot=3)  # same instant as frame 0
    assert store.write(WriteBatch(frames=[forged])).stored == 1
    store.write(WriteBatch(frames=frames("p1", range(20, 30), boot=3)))
    [stats] = store.stream_stats()
    assert (stats.frames, stats.missing, stats.jumps, stats.first_seq, stats.last_seq) == (31, 0, 1, 0, 29)
    assert sorted(store.stored_sequences("p1", "ecg"))[:30] == list(range(30))  # nothing real overwritten


def test_gaps_are_counted_inside_each_session(store):
    store.write(WriteBatch(frames=frames("p1", [0, 1, 4], boot=1)))
    store.write(WriteBatch(frames=frames("p1", [0, 2], boot=2, t_from=100)))
    [stats] = store.stream_stats()
    assert (stats.frames, stats.missing, stats.sessions) == (5, 3, 2)


def test_a_v1_file_is_migrated_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE frames (device TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
            t0_us INTEGER NOT NULL, t_last_us INTEGER NOT NULL, sample_rate REAL NOT NULL, channels INTEGER NOT NULL,
            n_samples INTEGER NOT NULL, scale REAL NOT NULL, dtype TEXT NOT NULL, data BLOB NOT NULL,
            batch_id INTEGER NOT NULL, PRIMARY KEY (device, stream, seq)) WITHOUT ROWID;
        CREATE INDEX frames_time ON frames(device, stream, t0_us);
        CREATE TABLE readings (device TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
            t_us INTEGER NOT NULL, "values" TEXT NOT NULL, batch_id INTEGER NOT NULL,
            PRIMARY KEY (device, stream, seq)) WITHOUT ROWID;
        CREATE TABLE stream_counters (device TEXT NOT NULL, stream TEXT NOT NULL, records INTEGER NOT NULL,
            first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, PRIMARY KEY (device, stream)) WITHOUT ROWID;
    """)
    old = ecg_frame("p1", 0)
    db.executemany("INSERT INTO frames VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [
        ("p1", "ecg", s, old.t0_us + s * 1_000_000, old.t_last_us + s * 1_000_000, old.sample_rate, 1,
         old.n_samples, old.scale, old.samples.dtype.str, old.samples.tobytes(), 1) for s in (0, 1, 3)])
    db.execute("INSERT INTO stream_counters VALUES ('p1', 'ecg', 3, 0, 3)")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        [stats] = store.stream_stats()
        assert (stats.frames, stats.missing) == (3, 1)
        assert store.write(WriteBatch(frames=[ecg_frame("p1", 1)])).duplicates == 1  # v1 frames are boot 0
        assert store.write(WriteBatch(frames=frames("p1", range(2), boot=9, t_from=50))).stored == 2
        assert store.stored_sequences("p1", "ecg") == [0, 0, 1, 1, 3]
    finally:
        store.close()


def test_session_counters_survive_reopening(store_factory):
    first = store_factory()
    first.write(WriteBatch(frames=frames("p1", range(20), boot=1)))
    first.write(WriteBatch(frames=frames("p1", [0, 1, 3], boot=2, t_from=100)))
    first.write(WriteBatch(frames=[dataclasses.replace(ecg_frame("p1", 4_000_000_000, T0_US), boot=2)]))
    first.write(WriteBatch(frames=frames("p1", range(5), boot=1)))  # redelivered
    before = first.stream_stats()
    first.close()
    again = store_factory()  # InfluxDB: counters loaded from the server, the jumped session recounted
    [stats] = again.stream_stats()
    assert stats == before[0]
    assert (stats.frames, stats.missing, stats.jumps, stats.sessions, stats.duplicates) == (24, 1, 1, 2, 5)
    assert (stats.first_seq, stats.last_seq) == (0, 3)
