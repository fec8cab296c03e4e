// One waveform of a tile: a ring buffer of the last WINDOW_S seconds, drawn at a fixed gain on a grid
// (mV/div for ECG, g/div for motion; auto-scaled for the arbitrary-unit streams). Each stream of a patient
// has its own trace, so the emotion band's ECG and pleth never share a buffer.
import {stats} from "./stats.js";

export const WINDOW_S = 8;
// Draw order in a tile, and what each stream looks like.
export const TRACES = {
  ecg: {cls: "ecg", title: lead => `ECG ${lead}`, perDiv: 0.5, unit: "mV", divs: 4, height: 44, color: "#3dd68c"},
  ppg: {cls: "ppg", title: () => "Pleth", perDiv: null, unit: "a.u.", divs: 2, height: 24, color: "#5ec8ff"},
  resp: {cls: "resp", title: () => "Resp", perDiv: null, unit: "a.u.", divs: 2, height: 22, color: "#f5d90a"},
  eda: {cls: "eda", title: () => "EDA", perDiv: null, unit: "µS", divs: 2, height: 18, color: "#c490ff"},
  acc: {cls: "motion", title: () => "Motion |a|", perDiv: 1, unit: "g", divs: 2, height: 26, color: "#52a8ff",
        base: 0},
};
export const ORDER = Object.keys(TRACES);

export function traceLabel(stream, lead) {
  const t = TRACES[stream];
  const gain = t.perDiv === null ? "auto" : `${t.perDiv} ${t.unit}/div`;
  return `${t.title(lead)} · ${gain} · ${WINDOW_S} s`;
}

export class Trace {
  constructor(canvas, stream) {
    this.canvas = canvas; this.spec = TRACES[stream]; this.stream = stream;
    this.buf = null; this.n = 0; this.head = 0; this.dtUs = 0; this.firstUs = null; this.lastUs = null;
    this.dirty = false;
    canvas.classList.add("grid");
    canvas.style.backgroundSize = `${100 / WINDOW_S}% ${100 / this.spec.divs}%`;
  }

  _ensure(dtUs) {
    if (this.buf && this.dtUs === dtUs) return;
    this.dtUs = dtUs;
    this.buf = new Float32Array(Math.max(16, Math.round(WINDOW_S * 1e6 / dtUs)));
    this.n = 0; this.head = 0;
  }

  _append(values) {
    const size = this.buf.length;
    for (const v of values) { this.buf[this.head] = v; this.head = (this.head + 1) % size; if (this.n < size) this.n++; }
  }

  push(values, dtUs, t0Us) {
    this._ensure(dtUs);
    if (this.lastUs !== null && t0Us < this.lastUs) return;  // an older frame (reordered): already past
    this._append(values);
    if (this.firstUs === null) this.firstUs = t0Us;
    this.lastUs = t0Us + values.length * dtUs;
    this.dirty = true;
  }

  // Samples from the store (after a reload) that end before the first live frame: put them in front.
  prefill(values, dtUs) {
    if (!values.length) return;
    if (!this.buf) this._ensure(dtUs);
    const size = this.buf.length, live = [];
    const start = (this.head - this.n + size) % size;
    for (let i = 0; i < this.n; i++) live.push(this.buf[(start + i) % size]);
    this.n = 0; this.head = 0;
    this._append(values.slice(-size));
    this._append(live);
    this.dirty = true;
  }

  draw() {
    this.dirty = false;
    const c = this.canvas, ctx = c.getContext("2d"), w = c.width, h = c.height, s = this.spec;
    ctx.clearRect(0, 0, w, h);
    if (!this.buf || this.n < 2) return;
    const size = this.buf.length, start = (this.head - this.n + size) % size;
    let lo = Infinity, hi = -Infinity, sum = 0;
    for (let i = 0; i < this.n; i++) {
      const v = this.buf[(start + i) % size]; if (v < lo) lo = v; if (v > hi) hi = v; sum += v;
    }
    let y0, scale;  // y = y0 - v * scale
    if (s.perDiv === null) { const span = hi - lo || 1; scale = (h - 4) / span; y0 = h - 2 + lo * scale; }
    else if (s.base !== undefined) { scale = h / s.divs / s.perDiv; y0 = h - 1 + s.base * scale; }
    else { scale = h / s.divs / s.perDiv; y0 = h / 2 + (sum / this.n) * scale; }
    const dx = w / (size - 1), offset = size - this.n;
    const yOf = v => Math.min(h - 1, Math.max(1, y0 - v * scale));
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.1; ctx.beginPath();
    if (this.n <= 2 * w) {
      for (let i = 0; i < this.n; i++) {
        const x = (offset + i) * dx, y = yOf(this.buf[(start + i) % size]);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
    } else {  // more samples than pixels: each pixel column's min and max (peaks survive, half the segments)
      let column = -1, lo = 0, hi = 0, first = true;
      for (let i = 0; i <= this.n; i++) {
        const c = i < this.n ? Math.floor((offset + i) * dx) : -2;
        if (c !== column) {
          if (column >= 0) {
            if (first) { ctx.moveTo(column, yOf(lo)); first = false; } else ctx.lineTo(column, yOf(lo));
            ctx.lineTo(column, yOf(hi));
          }
          if (i === this.n) break;
          column = c; lo = hi = this.buf[(start + i) % size];
        } else {
          const v = this.buf[(start + i) % size]; if (v < lo) lo = v; if (v > hi) hi = v;
        }
      }
    }
    ctx.stroke();
    stats.drawn++;
  }
}
