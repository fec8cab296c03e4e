"""The simulated physiology is measured from the signals themselves, not trusted from the labels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks

from firmware_sim.dataset import Recording, generate
from firmware_sim.ecg import EcgStream
from firmware_sim.emotion import EmotionStream
from firmware_sim.motion import FALL_LIKE, FALLS
from firmware_sim.persona import make_persona

FS = 250.0


Beat = tuple[float, str]


def _ecg(condition: str, seconds: float = 300.0, index: int = 1) -> tuple[np.ndarray, list[Beat], EcgStream]:
    """A recording of the first persona from ``index`` on with this condition and narrow normal beats."""
    while (persona := make_persona(21, index, condition=condition)).bundle_branch_block:
        index += 1
    stream = EcgStream(persona, FS, np.random.default_rng(index))
    signal = stream.render(int(seconds * FS))
    return signal, stream.take_beats(seconds - 1.0), stream


def _qrs_width_s(signal: np.ndarray, t: float) -> float:
    """Width of the main QRS deflection at half its height, measured on the waveform."""
    i = round(t * FS)
    seg = signal[i - 40:i + 40]
    seg = seg - np.median(np.concatenate([signal[i - 45:i - 38], signal[i + 38:i + 45]]))
    peak = int(np.argmax(np.abs(seg[30:50]))) + 30
    above = np.abs(seg) >= 0.5 * abs(seg[peak])
    lo, hi = peak, peak
    while lo > 0 and above[lo - 1]:
        lo -= 1
    while hi < len(seg) - 1 and above[hi + 1]:
        hi += 1
    return (hi - lo + 1) / FS


def _rr_context(beats: list[tuple[float, str]], label: str) -> tuple[np.ndarray, np.ndarray]:
    """For each beat of ``label`` preceded and followed by N beats: (coupling / normal RR, (RR before +
    RR after) / normal RR)."""
    t = np.array([b[0] for b in beats])
    labels = [b[1] for b in beats]
    rr = np.diff(t)
    normal = np.median([rr[i - 1] for i in range(1, len(rr)) if labels[i] == "N" and labels[i - 1] == "N"])
    idx = [i for i in range(2, len(beats) - 1) if labels[i] == label and labels[i - 1] == "N" and labels[i + 1] == "N"]
    coupling = np.array([rr[i - 1] / normal for i in idx])
    pair = np.array([(rr[i - 1] + rr[i]) / normal for i in idx])
    return coupling, pair


def test_heart_rate_matches_the_persona_and_the_signal_matches_the_labels() -> None:
    signal, beats, stream = _ecg("normal", 120.0)
    times = np.array([b[0] for b in beats])
    hr = 60.0 / np.diff(times).mean()
    assert hr == pytest.approx(stream.persona.resting_hr, rel=0.05)
    rectified = np.abs(signal - np.median(signal))
    # 0.35 s apart: an R peak wins over its own T wave (resting rates stay under 100 bpm)
    peaks, _ = find_peaks(rectified, height=0.5 * stream.persona.ecg_gain, distance=int(0.35 * FS))
    assert len(peaks) == pytest.approx(len(beats), abs=3)
    nearest = np.abs(peaks[:, None] / FS - times[None, :]).min(axis=1)
    assert np.median(nearest) < 0.02  # every detected R peak sits on a labelled beat


def test_ventricular_beats_are_wide_premature_with_a_compensatory_pause() -> None:
    signal, beats, _ = _ecg("pvc")
    n_width = np.median([_qrs_width_s(signal, t) for t, lab in beats[5:200] if lab == "N"])
    v = [t for t, lab in beats[2:-2] if lab == "V"]
    assert len(v) > 10
    v_width = np.median([_qrs_width_s(signal, t) for t in v])
    assert v_width > 1.8 * n_width and v_width > 0.045
    coupling, pair = _rr_context(beats, "V")
    assert np.median(coupling) < 0.8
    assert np.median(pair) == pytest.approx(2.0, abs=0.2)  # full compensatory pause


def test_supraventricular_beats_are_premature_and_narrow_without_full_compensation() -> None:
    signal, beats, _ = _ecg("pac")
    n_width = np.median([_qrs_width_s(signal, t) for t, lab in beats[5:200] if lab == "N"])
    s = [t for t, lab in beats[2:-2] if lab == "S"]
    assert len(s) > 10
    s_width = np.median([_qrs_width_s(signal, t) for t in s])
    # narrow (an early beat may ride on the previous T wave, which widens the half-height a little)
    assert s_width < 1.5 * n_width and s_width < 0.045
    coupling, pair = _rr_context(beats, "S")
    assert np.median(coupling) < 0.85
    assert np.median(pair) < 1.9  # the sinus node is reset: no full compensatory pause


def _ensemble(signal: np.ndarray, times: list[float]) -> np.ndarray:
    rows = [signal[round(t * FS) - 80:round(t * FS) + 20] for t in times if 1 < t < len(signal) / FS - 1]
    avg = np.mean(rows, axis=0)
    return avg - np.median(avg[:15])


def test_atrial_fibrillation_is_irregular_and_has_no_p_waves() -> None:
    signal, beats, stream = _ecg("af_paroxysmal", 600.0, index=2)
    episodes = [e for e in stream.take_episodes() if e.label == "AF" and e.end < 599]
    assert episodes
    in_af = [(t, lab) for t, lab in beats if any(e.start + 2 < t < e.end for e in episodes)]
    sinus = [(t, lab) for t, lab in beats if not any(e.start - 3 < t < e.end + 3 for e in episodes)]
    assert len(in_af) > 60 and len(sinus) > 60

    def rr_cv(bs: list[tuple[float, str]]) -> float:
        """Irregularity: spread of successive RR differences over N-N-N runs, relative to the RR."""
        t = np.array([b[0] for b in bs])
        ok = np.array([lab == "N" for _, lab in bs])
        rr = np.diff(t)
        rr_ok = ok[1:] & ok[:-1] & (rr < 2.0)
        d = np.diff(rr)[rr_ok[1:] & rr_ok[:-1]]
        return float(np.std(d) / np.mean(rr[rr_ok]))

    assert rr_cv(in_af) > 2.5 * rr_cv(sinus)
    pr = stream.persona.pr_s
    p_window = slice(80 - round((pr + 0.04) * FS), 80 - round((pr - 0.04) * FS))  # where the P wave peaks
    p_sinus = np.abs(_ensemble(signal, [t for t, lab in sinus if lab == "N"])[p_window]).max()
    # AF beats after a long RR only, so the previous T wave lies outside the P-wave window
    times = np.array([b[0] for b in beats])
    long_rr = [t for t, lab in in_af if lab == "N" and t - times[np.searchsorted(times, t) - 1] > 0.6]
    assert len(long_rr) > 20
    p_af = np.abs(_ensemble(signal, long_rr)[p_window]).max()
    assert p_sinus > 0.06
    assert p_af < 0.4 * p_sinus


def test_beat_classes_vary_between_subjects() -> None:
    recs = list(generate("ecg", 6, 60.0, seed=9))
    conditions = {r.persona["condition"] for r in recs}
    assert len(conditions) >= 3
    amplitudes = [float(np.percentile(r.signals["ecg"], 99)) for r in recs]
    assert max(amplitudes) > 1.3 * min(amplitudes)


def _motion() -> list[Recording]:
    return list(generate("motion", 6, 300.0, seed=5))


@pytest.fixture(scope="module")
def motion() -> list[Recording]:
    return _motion()


def test_a_fall_is_free_fall_then_impact_then_stillness(motion: list[Recording]) -> None:
    falls = 0
    for rec in motion:
        fs = rec.rates["acc"]
        acc = rec.signals["acc"]
        mag = np.linalg.norm(acc, axis=1)
        for a in rec.truth:
            if a.kind != "fall" or a.t_end_s + 4 > len(acc) / fs:
                continue
            falls += 1
            assert a.label in FALLS
            i0, i1 = int(a.t_s * fs), int(a.t_end_s * fs) + 1
            i_low = i0 + int(np.argmin(mag[i0:i1]))
            i_peak = i0 + int(np.argmax(mag[i0:i1 + 2]))
            assert mag[i_low] < 0.7, a  # (partial) free fall
            assert mag[i_peak] > 1.9, a  # impact
            assert i_low < i_peak
            after = acc[i1 + int(1.5 * fs):i1 + int(3.0 * fs)]
            assert after.std(axis=0).max() < 0.06, a  # lying still
            assert abs(after[:, 2].mean()) < 0.5, a  # trunk horizontal: gravity no longer along z
    assert falls >= 5


def test_fall_like_activities_are_present_and_not_labelled_falls(motion: list[Recording]) -> None:
    seen: set[str] = set()
    for rec in motion:
        fs = rec.rates["acc"]
        acc = rec.signals["acc"]
        falls = [a for a in rec.truth if a.kind == "fall"]
        for a in rec.truth:
            if a.kind == "activity" and a.label in FALL_LIKE:
                seen.add(a.label)
                assert not any(f.t_s < a.t_end_s and a.t_s < f.t_end_s for f in falls)
            if a.kind == "impact" and a.label in ("jump", "sit_down_hard") and a.t_s + 3 < len(acc) / fs:
                after = acc[int((a.t_s + 0.4) * fs):int((a.t_s + 0.8) * fs)]
                assert after[:, 2].mean() > 0.8  # still upright afterwards
    assert seen == set(FALL_LIKE)


def _nn_rmssd(beats: list[Beat]) -> float:
    """RMSSD over normal-to-normal intervals only (an ectopic beat would dominate it)."""
    t = np.array([b[0] for b in beats])
    ok = np.array([b[1] == "N" for b in beats])
    rr = np.diff(t)
    ok_rr = ok[1:] & ok[:-1]
    d = np.diff(rr)[ok_rr[1:] & ok_rr[:-1]]
    return float(np.sqrt(np.mean(d * d)))


def test_stress_raises_heart_rate_and_skin_conductance_responses_and_lowers_hrv() -> None:
    persona = make_persona(3, 4, condition="normal")
    stream = EmotionStream(persona, np.random.default_rng(4), cycle_s=1200.0)
    sig = stream.render(1200.0)
    beats = stream.take_beats()
    times = np.array([t for t, _ in beats])
    eda, resp = sig["eda"][:, 0], sig["resp"][:, 0]
    stats: dict[str, list[tuple[float, ...]]] = {}
    for a, b, label in stream.episodes:
        a += 30.0  # skip the ramp
        if b - a < 60 or b > 1200.0:
            continue
        inside = times[(times > a) & (times < b)]
        hr = 60.0 / np.diff(inside).mean()
        seg = eda[int(a * 4):int(b * 4)]
        rises, _ = find_peaks(np.diff(seg), height=0.02)  # onsets of skin-conductance responses
        breaths, _ = find_peaks(resp[int(a * 32):int(b * 32)], distance=48, prominence=0.5)
        rmssd = _nn_rmssd([x for x in beats if a < x[0] < b])
        stats.setdefault(label, []).append(
            (hr, len(rises) / (b - a) * 60.0, float(seg.mean()), rmssd, len(breaths) / (b - a) * 60.0))
    base = np.mean(stats["baseline"], axis=0)
    stress = np.mean(stats["stress"], axis=0)
    amusement = np.mean(stats["amusement"], axis=0)
    assert stress[0] > base[0] + 5  # heart rate
    assert stress[1] > 2 * base[1]  # responses per minute
    assert stress[2] > base[2] + 0.5  # skin-conductance level
    assert stress[3] < 0.7 * base[3]  # vagal withdrawal: lower RMSSD
    assert stress[4] > base[4] + 3  # faster breathing
    assert base[0] < amusement[0] < stress[0]  # amusement: a milder arousal
    assert amusement[3] > 0.8 * base[3]
