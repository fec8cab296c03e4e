// Include on any page of the gateway (one line: <script src="/static/auth.js"></script>, before the
// page's own scripts). A 401 from the API — the session ended or was revoked — sends the browser to
// the sign-in page and back here afterwards. A live-feed WebSocket that cannot open asks /api/v1/me
// (whose 401 does the same). It also fills #who (the dashboard's "Signed in as" field) with the user,
// and an element with id "iomt-user" with the user and a sign-out link, when the page has them.
"use strict";
(() => {
  const signIn = () => location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  const originalFetch = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const r = await originalFetch(...args);
    if (r.status === 401) signIn();
    return r;
  };
  const OriginalWebSocket = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new OriginalWebSocket(...args);
    let opened = false;
    ws.addEventListener("open", () => { opened = true; });
    ws.addEventListener("close", () => { if (!opened) window.fetch("/api/v1/me", {cache: "no-store"}); });
    return ws;
  };
  window.WebSocket.prototype = OriginalWebSocket.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});

  async function logout() {
    await originalFetch("/api/v1/logout", {method: "POST", headers: {"Content-Type": "application/json"}});
    location.assign("/login");
  }

  window.iomtAuth = {logout, user: null};
  window.fetch("/api/v1/me", {cache: "no-store"}).then(r => r.ok ? r.json() : null).then(me => {
    if (!me) return;
    window.iomtAuth.user = me;
    const who = document.getElementById("who");
    if (who) { who.value = me.user; who.readOnly = true; }
    const badge = document.getElementById("iomt-user");
    if (badge) {
      const out = document.createElement("a");
      out.href = "#"; out.textContent = "sign out";
      out.addEventListener("click", e => { e.preventDefault(); logout(); });
      badge.replaceChildren(`${me.user} (${me.role}) · `, out);
    }
  });
})();
