// Trend charts of the patient view: per bucket the min-max envelope and the mean, the alarm limits as
// dashed lines, NEWS2 bands as background, alarms as vertical marks; a time axis with dates.
import {clockTime, dateTime} from "./format.js";

const LIMIT_STYLE = {low: "#f5d90a", high: "#f5d90a", extreme_low: "#ff5c63", extreme_high: "#ff5c63"};

function fit(canvas) {
  const w = Math.max(200, Math.round(canvas.clientWidth)), h = Math.max(40, Math.round(canvas.clientHeight));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  return [w, h];
}

// lines: [{mean, low, high, color}] over times t (µs); opts: {start, end, limits, bands, marks, fixed: [lo, hi]}
export function drawTrend(canvas, t, lines, opts) {
  const [w, h] = fit(canvas), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const values = [];
  for (const l of lines) for (const arr of [l.low, l.high]) for (const v of arr) if (v !== null) values.push(v);
  const limitValues = Object.entries(opts.limits || {}).filter(([, v]) => v !== null).map(([, v]) => v);
  let [lo, hi] = opts.fixed || [Math.min(...values, ...limitValues), Math.max(...values, ...limitValues)];
  if (!isFinite(lo) || !isFinite(hi)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-6) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
  const x = us => (us - opts.start) / (opts.end - opts.start) * (w - 1);
  const y = v => h - 1 - (v - lo) / (hi - lo) * (h - 2);
  for (const band of opts.bands || []) {
    ctx.fillStyle = band.color; ctx.fillRect(0, y(band.to), w, y(band.from) - y(band.to));
  }
  ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
  for (const [name, v] of Object.entries(opts.limits || {})) {
    if (v === null) continue;
    ctx.strokeStyle = LIMIT_STYLE[name]; ctx.beginPath(); ctx.moveTo(0, y(v)); ctx.lineTo(w, y(v)); ctx.stroke();
  }
  ctx.setLineDash([]);
  for (const mark of opts.marks || []) {
    ctx.strokeStyle = mark.color; ctx.beginPath(); ctx.moveTo(x(mark.t), 0); ctx.lineTo(x(mark.t), h); ctx.stroke();
  }
  for (const l of lines) {
    ctx.fillStyle = l.color + "44";
    for (let i = 0; i < t.length; i++) {
      if (l.low[i] === null) continue;
      const width = Math.max(1, i + 1 < t.length ? x(t[i + 1]) - x(t[i]) : 1);
      ctx.fillRect(x(t[i]), y(l.high[i]), Math.min(width, 4), Math.max(1, y(l.low[i]) - y(l.high[i])));
    }
    ctx.strokeStyle = l.color; ctx.lineWidth = 1.4; ctx.beginPath();
    let pen = false;
    for (let i = 0; i < t.length; i++) {
      if (l.mean[i] === null) { pen = false; continue; }
      if (pen) ctx.lineTo(x(t[i]), y(l.mean[i])); else ctx.moveTo(x(t[i]), y(l.mean[i]));
      pen = true;
    }
    ctx.stroke();
  }
  ctx.fillStyle = "#8d9aa8"; ctx.font = "10px system-ui";
  ctx.fillText(hi.toFixed(hi - lo < 10 ? 1 : 0), w - 34, 10);
  ctx.fillText(lo.toFixed(hi - lo < 10 ? 1 : 0), w - 34, h - 3);
}

export function axis(el, start, end, ticks = 5) {
  const labels = [];
  for (let i = 0; i < ticks; i++) {
    const t = start + (end - start) * i / (ticks - 1);
    labels.push(i === 0 || i === ticks - 1 ? dateTime(t) : clockTime(t));
  }
  el.replaceChildren(...labels.map(text => { const s = document.createElement("span"); s.textContent = text; return s; }));
}

// The review strip: a waveform at a fixed gain on a 1 s grid, the alert's instant marked, beat labels above.
export function drawStrip(canvas, s, opts) {
  const [w, h] = fit(canvas), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const seconds = (opts.end - opts.start) / 1e6;
  canvas.style.backgroundSize = `${100 / seconds}% ${100 / opts.divs}%`;
  const x = us => (us - opts.start) / (opts.end - opts.start) * (w - 1);
  const v = opts.values;
  if (v.length) {
    const mean = opts.base !== undefined ? null : v.reduce((a, b) => a + b, 0) / v.length;
    const scale = h / opts.divs / opts.perDiv;
    const y0 = mean === null ? h - 2 + opts.base * scale : h / 2 + mean * scale;
    ctx.strokeStyle = opts.color; ctx.lineWidth = 1.2; ctx.beginPath();
    for (let i = 0; i < v.length; i++) {
      const yy = Math.min(h - 1, Math.max(1, y0 - v[i] * scale));
      if (i === 0) ctx.moveTo(x(s.t_us[i]), yy); else ctx.lineTo(x(s.t_us[i]), yy);
    }
    ctx.stroke();
  }
  ctx.strokeStyle = "#ff5c63"; ctx.beginPath(); ctx.moveTo(x(opts.at), 0); ctx.lineTo(x(opts.at), h); ctx.stroke();
  ctx.font = "bold 11px system-ui";
  for (const b of opts.beats || []) {
    ctx.fillStyle = b.label === "N" ? "#8d9aa8" : "#ffb020";
    ctx.fillText(b.label, x(b.t_us) - 3, 11);
  }
}
