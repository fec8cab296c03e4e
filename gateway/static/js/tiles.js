// The station's tiles: one per patient, built from /api/v1/station and kept live by the WebSocket feed.
import {$} from "./api.js";
import {label, limitStatus, value} from "./format.js";
import {stats} from "./stats.js";
import {ORDER, TRACES, Trace, traceLabel} from "./trace.js";

export const tiles = new Map();  // device -> Tile
const STATUS_CLASSES = ["s-low", "s-high", "s-extreme_low", "s-extreme_high", "s-normal", "s-unknown"];
const ECG_HR_FRESH_US = 10e6;
let onOpen = () => {};
let onVisible = () => {};

export function setHandlers({open, visible}) { onOpen = open; onVisible = visible; }

const observer = new IntersectionObserver(entries => {
  for (const e of entries) {
    const tile = tiles.get(e.target.dataset.device);
    if (!tile) continue;
    tile.visible = e.isIntersecting;
    if (tile.visible) onVisible(tile);
  }
});

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
function setStatus(el, status) {
  const cls = `s-${status}`;
  if (el.classList.contains(cls)) return;
  el.classList.remove(...STATUS_CLASSES);
  el.classList.add(cls);
}

export class Tile {
  constructor(device) {
    this.device = device;
    this.card = $("#card-template").content.firstElementChild.cloneNode(true);
    this.card.dataset.device = device;
    const q = sel => this.card.querySelector(sel);
    // the elements a poll or a live reading touches, found once (200 tiles are updated every few seconds)
    this.el = {
      name: q(".name"), bed: q(".bed"), news2: q(".news2"), score: q(".news2 .score"), flags: q(".news2 .flags"),
      badge: q(".badge"), inop: q(".inop"), traces: q(".traces"), hr: q(".hr"), hrSrc: q(".hr-src"),
      loss: q(".loss"), updated: q(".updated"), sys: q(".sys"), dia: q(".dia"),
      vitals: Object.fromEntries(["spo2", "resp_rate", "temp_c"].map(n => [n, q(`.num[data-vital="${n}"] .v`)])),
    };
    setText(this.el.name, device);
    this.traces = new Map();
    this.visible = true; this.backfilled = new Set();
    this.data = null; this.limits = {}; this.lead = "II";
    this.ecgHr = null;  // {value, t_us} from the edge's heart-rate events
    this.card.addEventListener("click", () => onOpen(this.device));
    this.card.addEventListener("keydown", e => { if (e.key === "Enter") onOpen(this.device); });
    observer.observe(this.card);
  }

  trace(stream) {
    let t = this.traces.get(stream);
    if (t || !TRACES[stream]) return t;
    const spec = TRACES[stream], div = document.createElement("div");
    div.className = `trace t-${stream}`;
    const canvas = document.createElement("canvas");
    canvas.className = spec.cls; canvas.width = 220; canvas.height = spec.height;
    canvas.setAttribute("aria-label", spec.title(this.lead));
    const tlabel = document.createElement("span");
    tlabel.className = "tlabel"; tlabel.textContent = traceLabel(stream, this.lead);
    div.append(canvas, tlabel);
    const box = this.el.traces, rank = ORDER.indexOf(stream);
    const after = [...box.children].find(el => ORDER.indexOf(el.dataset.stream) > rank);
    div.dataset.stream = stream;
    box.insertBefore(div, after || null);
    t = new Trace(canvas, stream);
    this.traces.set(stream, t);
    return t;
  }

  // The patient's state from the station view (polled).
  update(d) {
    this.data = d;
    const card = this.card;
    this.limits = Object.fromEntries(d.vitals.map(v => [v.name, v.limits]));
    if (d.ecg_lead !== this.lead) {
      this.lead = d.ecg_lead;
      const t = this.traces.get("ecg");
      if (t) setText(t.canvas.nextSibling, traceLabel("ecg", this.lead));
    }
    for (const stream of d.streams) this.trace(stream);
    setText(this.el.bed, [d.bed && `Bed ${d.bed}`, d.room].filter(Boolean).join(" · "));
    setText(this.el.name, d.display_name || d.device);
    const title = `${d.display_name || d.device} (${d.device}) · ${d.condition}`;
    if (card.title !== title) card.title = title;
    this._news2(d.news2);
    for (const v of d.vitals) if (v.name !== "hr") this._vital(v.name, v.value);
    this._heartRate(d.heart_rate, d.heart_rate_source);
    this._alarms(d);
    card.classList.toggle("stale", d.stale);
    card.classList.toggle("not-analysed", !d.analysed);
    const loss = this.el.loss;
    const lossText = d.missing ? `−${d.missing} lost` : "";
    if (loss.textContent !== lossText) { loss.textContent = lossText; loss.className = d.missing ? "loss bad" : "loss"; }
    setText(this.el.updated, d.battery_pct !== null ? `battery ${Math.round(d.battery_pct)} %` : "");
  }

  _news2(n) {
    const el = this.el.news2;
    if (el.hidden !== !n) el.hidden = !n;
    if (!n) return;
    setText(this.el.score, n.total === null ? "?" : String(n.total));
    const band = n.band || "incomplete", cls = `news2 b-${band}`;
    if (el.className !== cls) el.className = cls;
    el.dataset.band = band;
    const flags = [n.consciousness_assumed ? "A?" : n.consciousness, n.on_oxygen ? "O₂" : "",
                   n.spo2_scale === "2" ? "S2" : ""].filter(Boolean).join(" ");
    setText(this.el.flags, flags);
    const title = `NEWS2 ${n.total ?? "incomplete"} (${band})` +
      (n.consciousness_assumed ? " — consciousness not sent by the monitor: assumed Alert" : "");
    if (el.title !== title) el.title = title;
  }

  _vital(name, v) {
    if (name === "bp_sys" || name === "bp_dia") {
      const el = name === "bp_sys" ? this.el.sys : this.el.dia;
      setText(el, value(v));
      setStatus(el, limitStatus(v, this.limits[name]));
      return;
    }
    const box = this.el.vitals[name];
    if (!box) return;
    setText(box, value(v, name === "temp_c" ? 1 : 0));
    setStatus(box, limitStatus(v, this.limits[name]));
  }

  _heartRate(v, source) {
    const el = this.el.hr;
    setText(el, v === null || v === undefined ? "—" : Math.round(v).toString());
    setStatus(el, limitStatus(v, this.limits.hr));
    setText(this.el.hrSrc, source === "ecg" ? "ECG" : source === "monitor" ? "pulse" : "");
  }

  _alarms(d) {
    const card = this.card, open = [...d.clinical, ...d.technical];
    const clinical = d.clinical[0];  // most urgent first
    const badge = this.el.badge;
    if (badge.hidden !== !clinical) badge.hidden = !clinical;
    if (clinical) {
      setText(badge, `${clinical.priority.toUpperCase()} ${label(clinical.label)}` +
        (d.clinical.length > 1 ? ` +${d.clinical.length - 1}` : ""));
      const cls = `badge p-${clinical.priority}`;
      if (badge.className !== cls) badge.className = cls;
    }
    card.classList.toggle("alerting", d.clinical.length > 0);
    for (const p of ["high", "medium", "low"]) card.classList.toggle(`p-${p}`, d.priority === p && open.length > 0);
    const inop = this.el.inop;
    const parts = d.technical.map(a => `${label(a.label)}${a.stream ? ` (${a.stream.toUpperCase()})` : ""}`);
    if (!d.analysed) parts.unshift("NOT ANALYSED");
    if (inop.hidden !== (parts.length === 0)) inop.hidden = parts.length === 0;
    setText(inop, parts.join(" · "));
    card.classList.toggle("alarmed", parts.length > 0 || !!clinical);
    this.escalated = d.escalated;
    card.classList.toggle("escalated", d.escalated);
  }

  // A vitals reading from the live feed.
  live(item) {
    stats.vitals++;
    for (const [name, v] of Object.entries(item.vitals)) if (name !== "hr") this._vital(name, v);
    const ecgFresh = this.ecgHr && item.t_us - this.ecgHr.t_us <= ECG_HR_FRESH_US;
    if (!ecgFresh && item.vitals.hr !== undefined) this._heartRate(item.vitals.hr, "monitor");
    if (item.news2 !== null && this.data) {
      this._news2({...(this.data.news2 || {}), total: item.news2, band: item.band,
                   consciousness_assumed: item.consciousness_assumed});
    }
    this.card.classList.remove("stale");
  }

  heartRate(v, tUs) {
    this.ecgHr = {value: v, t_us: tUs};
    this._heartRate(v, "ecg");
  }
}

export function tile(device) {
  let t = tiles.get(device);
  if (t) return t;
  t = new Tile(device);
  tiles.set(device, t);
  $("#grid").appendChild(t.card);
  $("#empty").hidden = true;
  return t;
}

// Put the cards in the station's order (only the ones that moved are touched).
export function order(devices) {
  const grid = $("#grid");
  let prev = null;
  for (const device of devices) {
    const card = tiles.get(device)?.card;
    if (!card) continue;
    const want = prev ? prev.nextSibling : grid.firstChild;
    if (want !== card) grid.insertBefore(card, want);
    prev = card;
  }
}
