// The central station page: boots the tiles, the live feed, the polls and the patient view (#/patient/<id>).
import {$, clock, getJson} from "./api.js";
import {checkEscalation, refreshAlerts, render as renderAlerts, setAlertHandlers, setEscalation} from "./alerts.js";
import {backfill} from "./backfill.js";
import {refreshEdges} from "./edges.js";
import {clockTime} from "./format.js";
import {connect, setLiveHandlers} from "./live.js";
import {closePatient, openPatient, patientOpen} from "./patient.js";
import {stats} from "./stats.js";
import {order, setHandlers, tile, tiles} from "./tiles.js";
import {initTone} from "./tone.js";

let polling = null, again = false;

async function refreshStation() {
  if (polling) { again = true; return polling; }
  polling = (async () => {
    try {
      const r = await fetch("/api/v1/station", {cache: "no-store"});
      if (!r.ok) throw new Error(`station: ${r.status}`);
      const text = await r.text();
      let started = performance.now();
      const view = JSON.parse(text);
      stats.parseMs += performance.now() - started;
      started = performance.now();
      clock.sync(view.generated_us);
      setEscalation(view.escalate_after_s);
      for (const d of view.tiles) tile(d.device).update(d);
      order(view.tiles.map(d => d.device));
      for (const t of tiles.values()) if (t.visible && t.data) backfill(t);
      stats.stationPolls++;
      stats.refreshMs += performance.now() - started;
      const alarms = view.tiles.reduce((n, d) => n + d.clinical.length, 0);
      const inop = view.tiles.reduce((n, d) => n + d.technical.length, 0);
      $("#totals").textContent = `${view.tiles.length} patients · ${alarms} clinical alarms · ${inop} technical`;
    } catch (e) { $("#totals").textContent = "gateway unreachable, retrying…"; }
  })();
  await polling;
  polling = null;
  if (again) { again = false; setTimeout(refreshStation, 1000); }  // alarms in a burst: one more poll
}

function draw() {
  const started = performance.now();
  for (const t of tiles.values()) {
    if (!t.visible) continue;
    for (const trace of t.traces.values()) if (trace.dirty) trace.draw();
  }
  stats.drawMs += performance.now() - started;
  requestAnimationFrame(draw);
}

function route() {
  const m = /^#\/patient\/([^/]+)(?:\/alert\/([^/]+))?$/.exec(location.hash);
  if (m) openPatient(decodeURIComponent(m[1]), m[2] ? decodeURIComponent(m[2]) : null);
  else if (patientOpen()) closePatient();
}

const open = (device, eventId = null) => {
  location.hash = `#/patient/${encodeURIComponent(device)}${eventId ? `/alert/${encodeURIComponent(eventId)}` : ""}`;
};
setHandlers({open, visible: t => { if (t.data) backfill(t); }});
setAlertHandlers({change: () => refreshStation(), open});
setLiveHandlers({connected: () => { refreshAlerts(); refreshStation(); }});

$("#sign-out").onclick = () => window.iomtAuth.logout();  // auth.js: the session, #who filled from /api/v1/me
// Controls the signed-in role may not use are hidden (the gateway refuses them anyway).
getJson("/api/v1/me").then(me => { document.body.dataset.role = me.role; }).catch(() => {});
initTone();
window.addEventListener("hashchange", route);
connect();
refreshStation(); refreshAlerts(); refreshEdges();
setInterval(refreshStation, 3000);  // alarms and live readings refresh sooner
setInterval(refreshAlerts, 5000);
setInterval(refreshEdges, 3000);
setInterval(() => { checkEscalation(); $("#clock").textContent = clockTime(clock.nowUs()); }, 1000);
setInterval(renderAlerts, 10000);
route();
requestAnimationFrame(draw);
