// Sign-in page: posts the name and password as JSON; the gateway answers with an HttpOnly,
// SameSite=Strict session cookie, then the browser goes where it was sent from (a local path only).
"use strict";
(() => {
  const form = document.getElementById("login");
  const message = document.getElementById("message");
  const submit = document.getElementById("submit");

  function nextPath() {
    const next = new URLSearchParams(location.search).get("next") || "/";
    // Only a path on this gateway: never "//host" or "scheme:" (no open redirect).
    return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
  }

  form.addEventListener("submit", async event => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = "";
    try {
      const r = await fetch("/api/v1/login", {
        method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
        body: JSON.stringify({username: form.username.value.trim(), password: form.password.value}),
      });
      if (r.ok) { location.replace(nextPath()); return; }
      const body = await r.json().catch(() => ({}));
      message.textContent = body.error || `sign-in failed (${r.status})`;
      form.password.value = "";
      form.password.focus();
    } catch (e) {
      message.textContent = "the gateway cannot be reached";
    } finally {
      submit.disabled = false;
    }
  });
})();
