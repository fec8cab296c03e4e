// Live dashboard: patient grid (live ECG + motion, heart rate, loss), alerts by priority, edges.
// REST for state (polled), WebSocket for live waveforms/events/alerts. Canvases are redrawn only
// when new samples arrived and only while visible, so 200 patients stay smooth.
"use strict";

const ECG_WINDOW_S = 8, MOTION_WINDOW_S = 8;
const PRIORITY = {high: 0, medium: 1, low: 2, info: 3};
const patients = new Map();   // device -> {card, ecg: Trace, motion: Trace, hr, visible}
const alerts = new Map();     // event_id -> alert json
const stats = window.iomtStats = {waves: 0, drawn: 0, alertsShown: 0, wsMessages: 0, wsMs: 0, refreshMs: 0, drawMs: 0};
const $ = (sel, root = document) => root.querySelector(sel);

class Trace {
  constructor(canvas, seconds) { this.canvas = canvas; this.seconds = seconds; this.buf = null; this.n = 0;
    this.head = 0; this.dirty = false; }
  push(values, dtUs) {
    const size = Math.max(16, Math.round(this.seconds * 1e6 / dtUs));
    if (!this.buf || this.buf.length !== size) { this.buf = new Float32Array(size); this.n = 0; this.head = 0; }
    for (const v of values) { this.buf[this.head] = v; this.head = (this.head + 1) % size; if (this.n < size) this.n++; }
    this.dirty = true;
  }
  draw(color) {
    this.dirty = false;
    const c = this.canvas, ctx = c.getContext("2d"), w = c.width, h = c.height;
    ctx.clearRect(0, 0, w, h);
    if (!this.buf || this.n < 2) return;
    const size = this.buf.length, start = (this.head - this.n + size) % size;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < this.n; i++) { const v = this.buf[(start + i) % size]; if (v < lo) lo = v; if (v > hi) hi = v; }
    const span = hi - lo || 1, dx = w / (size - 1);
    ctx.strokeStyle = color; ctx.lineWidth = 1.2; ctx.beginPath();
    for (let i = 0; i < this.n; i++) {
      const y = h - 3 - (this.buf[(start + i) % size] - lo) / span * (h - 6);
      if (i === 0) ctx.moveTo(i * dx, y); else ctx.lineTo(i * dx, y);
    }
    ctx.stroke();
    stats.drawn++;
  }
}

const observer = new IntersectionObserver(entries => {
  for (const e of entries) { const p = patients.get(e.target.dataset.device); if (p) p.visible = e.isIntersecting; }
});

function patient(device) {
  let p = patients.get(device);
  if (p) return p;
  const card = $("#card-template").content.firstElementChild.cloneNode(true);
  card.dataset.device = device;
  $(".name", card).textContent = device;
  p = {card, ecg: new Trace($(".ecg", card), ECG_WINDOW_S), motion: new Trace($(".motion", card), MOTION_WINDOW_S),
       visible: true, hr: null};
  patients.set(device, p);
  insertSorted(card, device);
  observer.observe(card);
  $("#empty").hidden = true;
  return p;
}

function insertSorted(card, device) {
  const grid = $("#grid");
  for (const other of grid.children) {
    if (other.dataset.device.localeCompare(device, undefined, {numeric: true}) > 0) { grid.insertBefore(card, other); return; }
  }
  grid.appendChild(card);
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }

function setHeartRate(device, value) {
  const p = patient(device);
  p.hr = value;
  setText($(".hr", p.card), value === null || value === undefined ? "—" : Math.round(value).toString());
}

function frame() {
  const started = performance.now();
  for (const p of patients.values()) {
    if (!p.visible) continue;
    if (p.ecg.dirty) p.ecg.draw("#3dd68c");
    if (p.motion.dirty) p.motion.draw("#52a8ff");
  }
  stats.drawMs += performance.now() - started;
  requestAnimationFrame(frame);
}

// ---- live feed --------------------------------------------------------------------------------
let ws = null;
function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`);
  ws.onopen = () => { setConn(true); refreshAlerts(); };
  ws.onclose = () => { setConn(false); setTimeout(connect, 1000); };
  ws.onmessage = msg => {
    const started = performance.now();
    stats.wsMessages++;
    const m = JSON.parse(msg.data);
    if (m.type === "wave") {
      for (const f of m.frames) {
        const p = patient(f.device);
        (f.stream === "acc" ? p.motion : p.ecg).push(f.v, f.dt_us);
        stats.waves++;
      }
    } else if (m.type === "events") {
      for (const e of m.events) if (e.model === "heart_rate" && e.value !== null) setHeartRate(e.device, e.value);
    } else if (m.type === "alert") {
      alerts.set(m.alert.event_id, m.alert);
      renderAlerts();
    }
    stats.wsMs += performance.now() - started;
  };
}
function setConn(up) {
  const el = $("#conn");
  el.className = "conn " + (up ? "up" : "down");
  el.textContent = up ? "live" : "reconnecting…";
}

// ---- REST state -------------------------------------------------------------------------------
async function getJson(path) {
  const r = await fetch(path, {cache: "no-store"});
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

async function refreshPatients() {
  try {
    const {patients: list} = await getJson("/api/v1/patients");
    const started = performance.now();
    const now = Date.now() * 1000;
    for (const d of list) {
      const p = patient(d.device);
      if (d.heart_rate !== null && p.hr === null) setHeartRate(d.device, d.heart_rate);
      // Loss only (frame counts would change every poll and re-render 200 cards for nothing).
      const html = Object.entries(d.loss).sort().map(([stream, s]) =>
        s.missing ? `${stream} <span class="bad">−${s.missing} lost</span>` : `${stream} ✓`).join(" · ");
      if (p.lossHtml !== html) { $(".loss", p.card).innerHTML = html; p.lossHtml = html; }
      p.card.classList.toggle("stale", d.last_seen_us !== null && now - d.last_seen_us > 30e6 && !p.ecg.dirty);
      const badge = $(".badge", p.card);
      badge.hidden = d.open_alerts === 0;
      setText(badge, `${d.open_alerts} alert${d.open_alerts === 1 ? "" : "s"}`);
      p.card.classList.toggle("alerting", d.open_alerts > 0);
    }
    stats.refreshMs += performance.now() - started;
    const {totals} = await getJson("/api/v1/summary");
    setText($("#totals"), `${list.length} patients · ${totals.frames} frames · ${totals.events} events · ` +
      `${totals.deadletters} rejected`);
  } catch (e) { setText($("#totals"), "gateway unreachable, retrying…"); }
}

async function refreshAlerts() {
  try {
    const {alerts: list} = await getJson("/api/v1/alerts?limit=200");
    alerts.clear();
    for (const a of list) alerts.set(a.event_id, a);
    renderAlerts();
  } catch (e) { /* next poll retries */ }
}

function renderAlerts() {
  const ordered = [...alerts.values()].sort((a, b) =>
    (a.state === "resolved") - (b.state === "resolved") || PRIORITY[a.priority] - PRIORITY[b.priority] ||
    b.t_us - a.t_us);
  const ol = $("#alerts");
  const items = ordered.slice(0, 200).map(a => {
    const li = document.createElement("li");
    li.className = `alert p-${a.priority} s-${a.state}`;
    li.dataset.eventId = a.event_id;
    li.dataset.state = a.state;
    const when = new Date(a.t_us / 1000).toLocaleTimeString();
    li.innerHTML = `<div class="what"></div><div class="meta"></div>`;
    $(".what", li).textContent = `${a.priority.toUpperCase()} · ${a.label} · ${a.device}`;
    let meta = `${when} · ${a.model} ${a.model_version} · ${a.state}`;
    if (a.acknowledged_by) meta += ` by ${a.acknowledged_by}`;
    if (a.resolved_by) meta += ` · resolved by ${a.resolved_by}`;
    $(".meta", li).textContent = meta;
    if (a.state === "raised") li.append(button("Acknowledge", "ack", a.event_id, "acknowledge"));
    if (a.state !== "resolved") li.append(button("Resolve", "resolve", a.event_id, "resolve"));
    return li;
  });
  ol.replaceChildren(...items);
  const open = ordered.filter(a => a.state !== "resolved").length;
  setText($("#alert-count"), `${open} open`);
  stats.alertsShown = items.length;
}

function button(text, cls, id, action) {
  const b = document.createElement("button");
  b.textContent = text; b.className = cls;
  b.onclick = async () => {
    b.disabled = true;
    const who = $("#who").value.trim() || "operator";
    const r = await fetch(`/api/v1/alerts/${encodeURIComponent(id)}/${action}`,
      {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({by: who})});
    if (r.ok) { const a = await r.json(); alerts.set(a.event_id, a); renderAlerts(); }
    else { b.disabled = false; refreshAlerts(); }
  };
  return b;
}

async function refreshEdges() {
  try {
    const {edges} = await getJson("/api/v1/edges");
    const rows = edges.map(e => {
      const tr = document.createElement("tr");
      tr.dataset.node = e.node;
      const models = e.models.map(m => `${m.model} ${m.version}`).join(", ") || "—";
      for (const [text, cls] of [[e.node, ""], [e.status, e.status], [models, "models"]]) {
        const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.append(td);
      }
      return tr;
    });
    $("#edges tbody").replaceChildren(...rows);
  } catch (e) { /* next poll retries */ }
}

const who = $("#who");
who.value = localStorage.getItem("iomt-who") || "operator";
who.onchange = () => localStorage.setItem("iomt-who", who.value.trim());
connect();
refreshPatients(); refreshAlerts(); refreshEdges();
setInterval(refreshPatients, 2000);
setInterval(refreshAlerts, 5000);
setInterval(refreshEdges, 3000);
requestAnimationFrame(frame);
