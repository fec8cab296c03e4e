// The alarm list: clinical and technical (INOP) alarms by state and priority, acknowledge/resolve with
// who, escalation of an alarm nobody acknowledged within the station's escalate_after_s, and tones.
import {$, clock, getJson, sendJson} from "./api.js";
import {PRIORITY_RANK, dateTime, label} from "./format.js";
import {stats} from "./stats.js";
import {sound} from "./tone.js";

export const alerts = new Map();  // event_id -> alert json
const escalatedAt = new Map();    // event_id -> when its escalation last sounded (ms)
const RESOUND_MS = 15000;
let escalateAfterUs = 60e6;
let onChange = () => {};
let onOpen = () => {};

export function setAlertHandlers({change, open}) { onChange = change; onOpen = open; }
export function setEscalation(seconds) { escalateAfterUs = seconds * 1e6; }

const category = a => (a.detail && a.detail.category === "technical") ? "technical" : "clinical";
export const isEscalated = a => a.state === "raised" && clock.nowUs() - a.t_us >= escalateAfterUs;

let renderQueued = false;
// Alarms come in bursts (a deteriorating ward, an edge going down): the list is rebuilt once per burst.
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; render(); }, 150);
}

export function upsert(a, live = false) {
  const known = alerts.has(a.event_id);
  alerts.set(a.event_id, a);
  if (live && !known && a.state === "raised") sound(a.priority);
  scheduleRender();
  onChange(a);
}

export async function refreshAlerts() {
  try {
    const {alerts: list} = await getJson("/api/v1/alerts", {limit: "200"});
    alerts.clear();
    for (const a of list) alerts.set(a.event_id, a);
    render();
  } catch (e) { /* the next poll retries */ }
}

export function render() {
  const started = performance.now();
  const ordered = [...alerts.values()].sort((a, b) =>
    (a.state === "resolved") - (b.state === "resolved") || isEscalated(b) - isEscalated(a) ||
    PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || b.t_us - a.t_us);
  const items = ordered.slice(0, 200).map(a => {
    const li = document.createElement("li");
    const escalated = isEscalated(a);
    li.className = `alert p-${a.priority} s-${a.state} c-${category(a)}${escalated ? " escalated" : ""}`;
    li.dataset.eventId = a.event_id; li.dataset.device = a.device; li.dataset.state = a.state; li.dataset.category = category(a);
    li.dataset.escalated = String(escalated);
    li.innerHTML = `<div class="what"></div><div class="meta"></div>`;
    const stream = a.detail && a.detail.stream ? ` (${String(a.detail.stream).toUpperCase()})` : "";
    $(".what", li).textContent = `${a.priority.toUpperCase()} · ${label(a.label)}${stream} · ${a.device}`;
    let meta = `${dateTime(a.t_us)} · ${a.node ? `${a.model} ${a.model_version}` : "gateway"} · ${a.state}`;
    if (escalated) meta += " · ESCALATED";
    if (a.acknowledged_by) meta += ` by ${a.acknowledged_by}`;
    if (a.resolved_by) meta += ` · resolved by ${a.resolved_by}`;
    $(".meta", li).textContent = meta;
    if (a.state === "raised") li.append(button("Acknowledge", "ack needs-clinician", a.event_id, "acknowledge"));
    if (a.state !== "resolved") li.append(button("Resolve", "resolve needs-clinician", a.event_id, "resolve"));
    li.addEventListener("click", e => { if (e.target.tagName !== "BUTTON") onOpen(a.device, a.event_id); });
    return li;
  });
  $("#alerts").replaceChildren(...items);
  setCount(ordered);
  stats.alertsShown = items.length;
  stats.alertMs += performance.now() - started;
}

function setCount(ordered) {
  const open = ordered.filter(a => a.state !== "resolved");
  const escalated = open.filter(isEscalated).length;
  const text = `${open.length} open${escalated ? ` · ${escalated} escalated` : ""}`;
  if ($("#alert-count").textContent !== text) $("#alert-count").textContent = text;
}

function button(text, cls, id, action) {
  const b = document.createElement("button");
  b.textContent = text; b.className = cls;
  b.onclick = async e => {
    e.stopPropagation();
    b.disabled = true;
    const r = await sendJson("POST", `/api/v1/alerts/${encodeURIComponent(id)}/${action}`, {});  // recorded under the signed-in user
    if (r.ok) upsert(r.body); else { b.disabled = false; refreshAlerts(); }
  };
  return b;
}

// Once a second: alarms that crossed the escalation time are flagged and sound again (while the tone is on).
export function checkEscalation() {
  const now = Date.now();
  let changed = false;
  for (const a of alerts.values()) {
    if (!isEscalated(a)) { escalatedAt.delete(a.event_id); continue; }
    const last = escalatedAt.get(a.event_id);
    if (last === undefined) { stats.escalated++; changed = true; }
    if (last === undefined || now - last >= RESOUND_MS) { escalatedAt.set(a.event_id, now); sound("high"); }
  }
  if (changed) render();
}
