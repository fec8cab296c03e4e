// The edge nodes' table: online/offline from their availability topic, and the models they run.
import {$, getJson} from "./api.js";

export async function refreshEdges() {
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
  } catch (e) { /* the next poll retries */ }
}
