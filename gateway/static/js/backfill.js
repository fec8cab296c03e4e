// After a reload the traces start empty: the last seconds of each stream of a tile come from the store
// (downsampled by the gateway) the first time the tile is on screen, a few requests at a time.
import {getJson} from "./api.js";
import {stats} from "./stats.js";
import {TRACES, WINDOW_S} from "./trace.js";

const RATE = {ecg: 125, ppg: 125, resp: 25, eda: 25, acc: 25};  // what the live feed sends (points per second)
const queue = [];
let running = 0;
const PARALLEL = 4;

export function backfill(tile) {
  for (const stream of tile.data ? tile.data.streams : []) {
    if (!TRACES[stream] || tile.backfilled.has(stream)) continue;
    tile.backfilled.add(stream);
    queue.push([tile, stream]);
  }
  pump();
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const [tile, stream] = queue.shift();
    running++;
    load(tile, stream).finally(() => { running--; pump(); });
  }
}

async function load(tile, stream) {
  const trace = tile.trace(stream);
  const end = trace.firstUs ?? Date.now() * 1000;
  const points = WINDOW_S * RATE[stream];
  try {
    const s = await getJson(`/api/v1/patients/${encodeURIComponent(tile.device)}/streams/${stream}`,
                            {start: String((end - WINDOW_S * 1e6) / 1e6), end: String((end - 1) / 1e6),
                             points: String(points)});
    if (!s.points) return;
    const values = stream === "acc"
      ? s.values[0].map((x, i) => Math.hypot(x, s.values[1][i], s.values[2][i])) : s.values[0];
    trace.prefill(values, Math.round(1e6 / RATE[stream]));
    stats.backfilled++;
  } catch (e) { tile.backfilled.delete(stream); }
}
