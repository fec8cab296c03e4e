// HTTP helpers and the gateway's clock (escalation is measured on it, not the browser's).
export const $ = (sel, root = document) => root.querySelector(sel);

export async function getJson(path, params) {
  const url = params ? `${path}?${new URLSearchParams(params)}` : path;
  const r = await fetch(url, {cache: "no-store"});
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

export async function sendJson(method, path, body) {
  const r = await fetch(path, {method, headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  let json = null;
  try { json = await r.json(); } catch (e) { /* not JSON */ }
  return {ok: r.ok, status: r.status, body: json};
}

export const clock = {
  offsetUs: 0,
  nowUs() { return Date.now() * 1000 + this.offsetUs; },
  sync(serverUs) { this.offsetUs = serverUs - Date.now() * 1000; },
};
