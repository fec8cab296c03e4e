// The WebSocket feed: waveforms to their traces, heart rate and vitals to the numerics, alerts to the list.
import {$} from "./api.js";
import {stats} from "./stats.js";
import {tile} from "./tiles.js";
import {upsert} from "./alerts.js";

let handlers = {connected: () => {}, alert: () => {}};
export function setLiveHandlers(h) { handlers = {...handlers, ...h}; }

export function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live`);
  ws.onopen = () => { setConn(true); handlers.connected(); };
  ws.onclose = () => { setConn(false); setTimeout(connect, 1000); };
  ws.onmessage = msg => {
    const started = performance.now();
    stats.wsMessages++;
    const m = JSON.parse(msg.data);
    if (m.type === "wave") {
      for (const f of m.frames) {
        const trace = tile(f.device).trace(f.stream);
        if (trace) { trace.push(f.v, f.dt_us, f.t0_us); stats.waves++; }
      }
    } else if (m.type === "events") {
      for (const e of m.events) if (e.model === "heart_rate" && e.value !== null) tile(e.device).heartRate(e.value, e.t_us);
    } else if (m.type === "vitals") {
      for (const r of m.readings) tile(r.device).live(r);
    } else if (m.type === "alert") {
      upsert(m.alert, true);
      handlers.alert(m.alert);
    }
    stats.wsMs += performance.now() - started;
  };
}

function setConn(up) {
  const el = $("#conn");
  el.className = "conn " + (up ? "up" : "down");
  el.textContent = up ? "live" : "reconnecting…";
}
