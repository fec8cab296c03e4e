// The patient view: trends of HR, vitals and NEWS2 over a chosen range (downsampled by the gateway), the
// alarm and event timeline, a review strip of the ECG (beat labels) or motion around any alarm, and the
// patient's alarm limits and registry entry with who changed them.
import {$, getJson, sendJson} from "./api.js";
import {axis, drawStrip, drawTrend} from "./chart.js";
import {dateTime, label} from "./format.js";
import {tiles} from "./tiles.js";

const RANGES = [[300, "5 min"], [900, "15 min"], [3600, "1 h"], [8 * 3600, "8 h"], [24 * 3600, "24 h"], [72 * 3600, "72 h"]];
const CHARTS = [
  {id: "hr", title: "Pulse (bpm)", lines: [["hr", "#3dd68c"]]},
  {id: "spo2", title: "SpO₂ (%)", lines: [["spo2", "#5ec8ff"]]},
  {id: "bp", title: "NIBP systolic / diastolic (mmHg)", lines: [["bp_sys", "#ff9f6e"], ["bp_dia", "#d9a066"]]},
  {id: "resp_rate", title: "Respiration (/min)", lines: [["resp_rate", "#f5d90a"]]},
  {id: "temp_c", title: "Temperature (°C)", lines: [["temp_c", "#c490ff"]]},
];
const NEWS2_BANDS = [{from: 4.5, to: 6.5, color: "#a85f0033"}, {from: 6.5, to: 20, color: "#b3262b33"}];
const STRIP_S = 10;  // seconds each side of the alarm
const VITALS = ["hr", "spo2", "bp_sys", "bp_dia", "resp_rate", "temp_c"];
const state = {device: null, rangeS: 3600, alerts: [], strip: null, timer: null};

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (k === "class") e.className = v; else e.setAttribute(k, v);
  e.append(...children);
  return e;
};

export function patientOpen() { return state.device; }

export async function openPatient(device, eventId = null) {
  state.device = device; state.strip = eventId;
  $("#grid-wrap").hidden = true;
  const view = $("#patient-view");
  view.hidden = false;
  view.className = "pv";
  view.dataset.device = device;
  view.replaceChildren(skeleton(device));
  await load();
  clearInterval(state.timer);
  state.timer = setInterval(() => { if (state.device === device) load(); }, 10000);
}

export function closePatient() {
  state.device = null;
  clearInterval(state.timer);
  $("#patient-view").hidden = true;
  $("#grid-wrap").hidden = false;
}

function skeleton(device) {
  const frag = document.createDocumentFragment();
  const back = el("button", {class: "back"}, "← Station");
  back.onclick = () => { location.hash = ""; };
  const ranges = el("span", {class: "ranges"});
  for (const [seconds, text] of RANGES) {
    const b = el("button", {"data-range": String(seconds), class: seconds === state.rangeS ? "on" : ""}, text);
    b.onclick = () => { state.rangeS = seconds; for (const x of ranges.children) x.classList.toggle("on", x === b); load(); };
    ranges.append(b);
  }
  frag.append(el("header", {class: "pv-head"}, back, el("h2", {class: "who"}, device), el("span", {class: "muted id"}),
                 ranges));
  const trends = el("section", {class: "trends"}, el("h3", {}, "Trends"));
  for (const c of [...CHARTS, {id: "news2", title: "NEWS2"}]) {
    trends.append(el("div", {class: "chart", "data-chart": c.id}, el("canvas"), el("span", {class: "clabel"}, c.title)));
  }
  trends.append(el("div", {class: "axis"}));
  frag.append(trends);
  frag.append(el("section", {class: "strip"}, el("h3", {}, "Review strip"),
                 el("div", {class: "meta"}, "Choose an alarm in the timeline."), el("canvas")));
  frag.append(el("section", {}, el("h3", {}, "Alarms and events"), el("ol", {class: "timeline"})));
  frag.append(el("section", {}, el("h3", {}, "Alarm limits"), el("div", {class: "limits-info muted"}),
                 el("form", {class: "limits"}), el("div", {class: "msg limits-msg"}),
                 el("ol", {class: "limit-history muted"})));
  frag.append(el("section", {}, el("h3", {}, "Patient"), el("form", {class: "registry"}),
                 el("div", {class: "msg registry-msg"})));
  return frag;
}

async function load() {
  const device = state.device, view = $("#patient-view");
  const end = Date.now() * 1000, start = end - state.rangeS * 1e6;
  const range = {start: String(start / 1e6), end: String(end / 1e6), points: "400"};
  const enc = encodeURIComponent(device);
  const [vitals, news2, alertList, quality, limits, record] = await Promise.all([
    getJson(`/api/v1/patients/${enc}/vitals`, range), getJson(`/api/v1/patients/${enc}/news2`, range),
    getJson("/api/v1/alerts", {device, limit: "500"}),
    getJson("/api/v1/events", {device, kind: "quality", start: range.start, end: range.end, limit: "500"}),
    getJson(`/api/v1/patients/${enc}/limits`), getJson(`/api/v1/patient-registry/${enc}`),
  ]);
  if (state.device !== device) return;
  state.alerts = alertList.alerts;
  const d = tiles.get(device)?.data;
  $(".who", view).textContent = [record.bed && `Bed ${record.bed}`, record.room, record.display_name || device]
    .filter(Boolean).join(" · ");
  $(".id", view).textContent = `${device} · ${record.condition} · SpO₂ scale ${record.spo2_scale}` +
    (d && d.news2 && d.news2.total !== null ? ` · NEWS2 ${d.news2.total} (${d.news2.band})` : "") +
    (d && d.placement ? ` · motion sensor at the ${d.placement.replace("_", " ")}` : "");
  const marks = state.alerts.filter(a => a.t_us >= start && (!a.detail || a.detail.category !== "technical"))
    .map(a => ({t: a.t_us, color: a.priority === "high" ? "#ff5c6388" : "#f5a52488"}));
  const byName = Object.fromEntries(vitals.vitals.map(v => [v.name, v]));
  for (const c of CHARTS) {
    const canvas = view.querySelector(`[data-chart="${c.id}"] canvas`);
    const lines = c.lines.map(([name, color]) => ({...byName[name], color}));
    const lim = c.id === "bp" ? {} : limits.limits[c.id];
    drawTrend(canvas, vitals.t_us, lines, {start, end, limits: lim, marks});
  }
  drawTrend(view.querySelector('[data-chart="news2"] canvas'), news2.t_us,
            [{...news2.total, color: "#e6ebf0"}], {start, end, bands: NEWS2_BANDS, fixed: [0, 12], marks});
  view.querySelector('[data-chart="news2"]').dataset.points = String(news2.points);
  view.querySelector('[data-chart="hr"]').dataset.points = String(vitals.points);
  axis($(".axis", view), start, end);
  timeline(view, start, quality.events);
  limitsForm(view, limits);
  registryForm(view, record);
  if (!state.strip && state.alerts.length) state.strip = state.alerts.reduce((a, b) => (b.t_us > a.t_us ? b : a)).event_id;
  if (state.strip) strip(state.strip);
}

function timeline(view, start, qualityEvents) {
  const rows = [];
  for (const a of state.alerts) {
    const technical = a.detail && a.detail.category === "technical";
    const who = [a.acknowledged_by && `ack ${a.acknowledged_by}`, a.resolved_by && `resolved ${a.resolved_by}`]
      .filter(Boolean).join(", ");
    const li = el("li", {class: `p-${a.priority}${technical ? " technical" : ""}`, "data-event-id": a.event_id},
                  el("time", {}, dateTime(a.t_us)), el("span", {class: "lbl"}, `${technical ? "INOP " : ""}` +
                    `${a.priority.toUpperCase()} ${label(a.label)}`), el("span", {class: "muted"}, `${a.state}` +
                    (who ? ` (${who})` : "")));
    const review = el("button", {class: "review"}, "Review");
    review.onclick = () => { state.strip = a.event_id; strip(a.event_id); };
    li.append(review);
    rows.push([a.t_us, li]);
  }
  for (const e of qualityEvents) {
    rows.push([e.t_us, el("li", {class: "technical"}, el("time", {}, dateTime(e.t_us)),
                         el("span", {class: "lbl"}, `signal: ${label(e.label)}`),
                         el("span", {class: "muted"}, e.detail && e.detail.stream ? e.detail.stream : ""))]);
  }
  rows.sort((a, b) => b[0] - a[0]);
  $(".timeline", view).replaceChildren(...rows.filter(([t]) => t >= start || rows.length < 50).map(([, li]) => li));
}

function stripStream(a) {
  const streams = tiles.get(state.device)?.data?.streams || [];
  const stream = a.detail && typeof a.detail.stream === "string" ? a.detail.stream : null;
  if (a.model === "fall" || a.label === "device_removed") return "acc";
  if (stream && ["ecg", "ppg", "resp", "acc"].includes(stream)) return stream;
  return streams.includes("ecg") ? "ecg" : streams.includes("acc") ? "acc" : "ecg";
}

async function strip(eventId) {
  const view = $("#patient-view");
  const a = state.alerts.find(x => x.event_id === eventId);
  if (!a) return;
  const stream = stripStream(a), start = a.t_us - STRIP_S * 1e6, end = a.t_us + STRIP_S * 1e6;
  const enc = encodeURIComponent(state.device);
  const range = {start: String(start / 1e6), end: String(end / 1e6)};
  const [s, beats] = await Promise.all([
    getJson(`/api/v1/patients/${enc}/streams/${stream}`, {...range, points: "5000"}),
    stream === "ecg" ? getJson(`/api/v1/patients/${enc}/beats`, range) : Promise.resolve({beats: []}),
  ]);
  const section = $(".strip", view);
  section.dataset.eventId = eventId; section.dataset.stream = stream;
  section.dataset.samples = String(s.points); section.dataset.beats = String(beats.beats.length);
  const values = stream === "acc" ? s.values[0].map((x, i) => Math.hypot(x, s.values[1][i], s.values[2][i]))
    : s.values[0];
  const ecg = stream === "ecg";
  const gain = ecg ? {perDiv: 0.5, divs: 6, color: "#3dd68c"} : stream === "acc"
    ? {perDiv: 1, divs: 4, base: 0, color: "#52a8ff"} : {perDiv: 0.5, divs: 6, color: "#5ec8ff"};
  $(".meta", section).textContent = `${label(a.label)} at ${dateTime(a.t_us)} · ` +
    `${ecg ? `ECG ${tiles.get(state.device)?.lead || ""} · 0.5 mV/div` : stream === "acc" ? "motion |a| · 1 g/div"
      : `${stream} · 0.5/div`} · 1 s/div · ${2 * STRIP_S} s · ${s.points} samples` +
    (ecg ? ` · ${beats.beats.length} beats labelled` : "");
  drawStrip($("canvas", section), s, {start, end, at: a.t_us, values, beats: beats.beats, ...gain});
}

function limitsForm(view, limits) {
  const form = $("form.limits", view);
  if (form.dataset.loaded === String(limits.changed_us)) return;  // do not overwrite what the nurse is typing
  form.dataset.loaded = String(limits.changed_us);
  $(".limits-info", view).textContent = limits.custom
    ? `Set by ${limits.changed_by} at ${dateTime(limits.changed_us)}`
    : `Defaults for ${limits.condition}` + (limits.changed_by ? ` (reset by ${limits.changed_by})` : "");
  const cells = [el("b", {}, "Vital"), ...["low", "high", "extreme low", "extreme high"].map(t => el("b", {}, t))];
  for (const name of VITALS) {
    cells.push(el("span", {}, label(name)));
    for (const field of ["low", "high", "extreme_low", "extreme_high"]) {
      const v = limits.limits[name][field];
      cells.push(el("input", {name: `${name}.${field}`, value: v === null ? "" : String(v), inputmode: "decimal",
                              "aria-label": `${name} ${field}`}));
    }
  }
  const save = el("button", {type: "submit", class: "save-limits needs-clinician"}, "Save limits");
  const reset = el("button", {type: "button", class: "reset-limits needs-clinician"}, "Reset to defaults");
  form.replaceChildren(...cells, save, reset);
  form.onsubmit = async e => {
    e.preventDefault();
    const body = {limits: {}};  // recorded under the signed-in user
    for (const name of VITALS) {
      body.limits[name] = {};
      for (const field of ["low", "high", "extreme_low", "extreme_high"]) {
        const raw = form.elements[`${name}.${field}`].value.trim();
        body.limits[name][field] = raw === "" ? null : Number(raw);
      }
    }
    report($(".limits-msg", view), await sendJson("PUT", `/api/v1/patients/${encodeURIComponent(state.device)}/limits`,
                                                   body));
  };
  reset.onclick = async () => report($(".limits-msg", view), await sendJson(
    "POST", `/api/v1/patients/${encodeURIComponent(state.device)}/limits/reset`, {}));
  getJson(`/api/v1/patients/${encodeURIComponent(state.device)}/limits/history`, {limit: "5"}).then(h => {
    $(".limit-history", view).replaceChildren(...h.changes.map(c => el("li", {},
      `${dateTime(c.changed_us)} ${c.changed_by}: ${c.limits ? "changed" : "reset to defaults"}`)));
  }).catch(() => {});
}

function registryForm(view, record) {
  const form = $("form.registry", view);
  if (form.dataset.loaded === String(record.updated_us)) return;
  form.dataset.loaded = String(record.updated_us);
  const field = (name, value, extra = {}) => el("label", {}, name.replace("_", " "),
    el("input", {name, value: value ?? "", ...extra}));
  const condition = el("select", {name: "condition"}, ...["general", "copd", "hypertension", "heart_failure"]
    .map(c => { const o = el("option", {value: c}, c); if (c === record.condition) o.selected = true; return o; }));
  const scale = el("select", {name: "spo2_scale"}, ...["1", "2"].map(s => {
    const o = el("option", {value: s}, `SpO₂ scale ${s}`); if (s === record.spo2_scale) o.selected = true; return o; }));
  const oxygen = el("input", {type: "checkbox", name: "supplemental_oxygen"});
  oxygen.checked = record.supplemental_oxygen;
  const save = el("button", {type: "submit", class: "needs-admin"}, "Save patient (admin)");
  const saveClinical = el("button", {type: "button", class: "needs-clinician"}, "Save NEWS2 settings (clinician)");
  form.replaceChildren(field("bed", record.bed), field("room", record.room), field("display_name", record.display_name),
                       el("label", {}, "condition", condition), field("ecg_lead", record.ecg_lead),
                       el("label", {}, "NEWS2", scale), el("label", {}, "on oxygen ", oxygen), save, saveClinical);
  const msg = $(".registry-msg", view);
  form.onsubmit = async e => {
    e.preventDefault();
    const body = {condition: condition.value, ecg_lead: form.elements.ecg_lead.value};
    for (const name of ["bed", "room", "display_name"]) body[name] = form.elements[name].value.trim() || null;
    report(msg, await sendJson("PUT", `/api/v1/patient-registry/${encodeURIComponent(state.device)}`, body));
  };
  saveClinical.onclick = async () => report(msg, await sendJson(
    "PUT", `/api/v1/patient-registry/${encodeURIComponent(state.device)}/clinical`,
    {spo2_scale: scale.value, supplemental_oxygen: oxygen.checked}));
}

function report(msg, r) {
  msg.classList.toggle("ok", r.ok);
  msg.textContent = r.ok ? "Saved." : (r.body && r.body.error) || `failed (${r.status})`;
  if (r.ok) load();
}
