"""Device restarts and implausible sequence numbers (issue 12, point 5): a restart is new data, a
forged number is counted without moving the stream, and no single message silences a patient."""

from __future__ import annotations

from edge.sequence import JUMP_CONFIRM, MAX_JUMP, SequenceTracker, Verdict

T0 = 1_764_000_000_000_000
STEP = 500_000


def run(tracker: SequenceTracker, seqs: range | list[int], boot: int = 0, t_from: int = 0) -> list[Verdict]:
    return [tracker.observe("p1", "ecg", s, boot, T0 + (t_from + i) * STEP) for i, s in enumerate(seqs)]


def test_a_new_boot_id_is_a_restart_whose_frames_are_all_in_order() -> None:
    tracker = SequenceTracker()
    assert set(run(tracker, range(906), boot=11)) == {Verdict.OK}
    after = run(tracker, range(906), boot=12, t_from=1000)
    assert after[0] is Verdict.RESTART and set(after[1:]) == {Verdict.OK}
    assert all(v.in_order for v in after)
    totals = tracker.totals()
    assert totals["restarts"] == 1 and totals["duplicates"] == 0 and totals["missing"] == 0


def test_a_v1_restart_shows_as_numbers_going_back_while_time_goes_forward() -> None:
    tracker = SequenceTracker()
    run(tracker, range(50))
    after = run(tracker, range(50), t_from=100)  # boot 0 both times: a v1 device
    assert after[0] is Verdict.RESTART and set(after[1:]) == {Verdict.OK}
    # a redelivery of an old frame repeats its old timestamp: a duplicate, not a restart
    assert tracker.observe("p1", "ecg", 3, 0, T0 + 3 * STEP) is Verdict.DUPLICATE
    assert tracker.totals()["restarts"] == 1 and tracker.totals()["duplicates"] == 1


def test_late_messages_of_the_previous_session_are_stale_not_a_restart() -> None:
    tracker = SequenceTracker()
    run(tracker, [0, 1, 3], boot=5)
    run(tracker, [0, 1], boot=6, t_from=10)
    assert tracker.observe("p1", "ecg", 2, 5, T0 + 2 * STEP) is Verdict.STALE  # the old session's gap
    assert tracker.observe("p1", "ecg", 2, 6, T0 + 12 * STEP) is Verdict.OK
    assert tracker.totals() == {"received": 7, "missing": 0, "duplicates": 0, "reordered": 1, "restarts": 1,
                                "jumps": 0}


def test_one_forged_sequence_number_of_4e9_does_not_silence_the_stream() -> None:
    tracker = SequenceTracker()
    run(tracker, range(10))
    assert tracker.observe("p1", "ecg", 4_000_000_000, 0, T0 + 10 * STEP) is Verdict.JUMP
    after = run(tracker, range(10, 30), t_from=10)
    assert set(after) == {Verdict.OK}  # the honest frames go on being analysed
    totals = tracker.totals()
    assert totals["jumps"] == 1 and totals["missing"] == 0 and totals["duplicates"] == 0


def test_a_jump_far_back_is_not_a_duplicate_either() -> None:
    tracker = SequenceTracker()
    run(tracker, range(MAX_JUMP + 10, MAX_JUMP + 20))
    assert tracker.observe("p1", "ecg", 0, 0, T0) is Verdict.JUMP  # far back, and old in time: forged
    assert set(run(tracker, range(MAX_JUMP + 20, MAX_JUMP + 25), t_from=10)) == {Verdict.OK}


def test_a_stream_that_really_goes_on_from_a_jump_is_followed_after_a_few_frames() -> None:
    tracker = SequenceTracker()
    run(tracker, range(10))
    far = 3_000_000_000
    verdicts = run(tracker, range(far, far + 10), t_from=10)
    assert verdicts[:JUMP_CONFIRM - 1] == [Verdict.JUMP] * (JUMP_CONFIRM - 1)
    assert verdicts[JUMP_CONFIRM - 1] is Verdict.RESTART and set(verdicts[JUMP_CONFIRM:]) == {Verdict.OK}


def test_a_forged_boot_id_cannot_displace_the_live_session_for_long() -> None:
    tracker = SequenceTracker()
    run(tracker, range(10), boot=7)
    assert tracker.observe("p1", "ecg", 4_000_000_000, 666, T0 + 10 * STEP) is Verdict.RESTART
    honest = run(tracker, range(10, 20), boot=7, t_from=10)
    assert honest[:JUMP_CONFIRM - 1] == [Verdict.STALE] * (JUMP_CONFIRM - 1)
    assert honest[JUMP_CONFIRM - 1] is Verdict.RESTART and set(honest[JUMP_CONFIRM:]) == {Verdict.OK}
    assert tracker.totals()["missing"] == 0
