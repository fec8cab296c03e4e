// The images page (/static/images.html?patient=<id>): a patient picker and that patient's image panel.
import {mountImagePanel} from "./image_panel.js";

const select = document.getElementById("patient");
const target = document.getElementById("images");
let panel = null;

function show(patient) {
  if (panel) panel.destroy();
  panel = patient ? mountImagePanel(target, patient) : null;
  const url = new URL(location.href);
  url.searchParams.set("patient", patient);
  history.replaceState(null, "", url);
}

async function patients() {
  const r = await fetch("/api/v1/patients", {cache: "no-store", credentials: "same-origin"});
  return r.ok ? (await r.json()).patients.map(p => p.device) : [];
}

const wanted = new URLSearchParams(location.search).get("patient") || "";
const known = await patients();
for (const id of [...new Set([wanted, ...known].filter(Boolean))].sort()) {
  const option = document.createElement("option");
  option.value = id; option.textContent = id;
  select.append(option);
}
select.value = wanted || select.value;
select.onchange = () => show(select.value);
show(select.value);
