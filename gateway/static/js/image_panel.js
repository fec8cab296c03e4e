// A patient's images with their mask layers: the model's prediction filled over the image, the ground truth
// (when the device sent one) outlined, each switchable; a scale bar from the image's pixel spacing; the
// finding (label, area, confidence, model version). Images and masks come from the image API, decrypted on
// the gateway for the signed-in user (nothing is cached: the API answers no-store).
//
// Use: import {mountImagePanel} from "/static/js/image_panel.js";
//      const panel = mountImagePanel(element, patientId);   // panel.refresh(), panel.destroy()

const SCALE = 2;                       // screen pixels per image pixel (128 px images draw at 256 px)
const PREDICTED = [255, 96, 48];       // model: orange-red fill and outline
const TRUTH = [61, 214, 140];          // ground truth: green outline
const NICE_MM = [1, 2, 5, 10, 20, 50, 100, 200];

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (k === "class") e.className = v; else e.setAttribute(k, v);
  e.append(...children);
  return e;
};

async function json(path) {
  const r = await fetch(path, {cache: "no-store", credentials: "same-origin"});
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`${src}: not an image`));
    img.src = src;
  });
}

// Run lengths (background first, row-major) -> Uint8Array of 0/1.
export function decodeRle(runs, height, width) {
  const out = new Uint8Array(height * width);
  let pos = 0;
  runs.forEach((n, i) => { if (i % 2) out.fill(1, pos, pos + n); pos += n; });
  return out;
}

// The largest "nice" length (mm) whose bar stays within a quarter of the width; null without spacing.
export function scaleBar(spacingMm, widthPx, scale = SCALE) {
  if (!spacingMm) return null;
  const mmPerScreenPx = spacingMm[1] / scale;
  const maxMm = widthPx * scale * mmPerScreenPx / 4;
  const mm = [...NICE_MM].reverse().find(v => v <= maxMm) || NICE_MM[0];
  return {mm, px: mm / mmPerScreenPx};
}

function overlay(ctx, mask, height, width, rgb, fill) {
  const data = ctx.createImageData(width * SCALE, height * SCALE);
  const set = (x, y, a) => {
    for (let dy = 0; dy < SCALE; dy++) for (let dx = 0; dx < SCALE; dx++) {
      const i = ((y * SCALE + dy) * width * SCALE + x * SCALE + dx) * 4;
      data.data[i] = rgb[0]; data.data[i + 1] = rgb[1]; data.data[i + 2] = rgb[2]; data.data[i + 3] = a;
    }
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    if (!mask[y * width + x]) continue;
    const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[y * width + x - 1] ||
      !mask[y * width + x + 1] || !mask[(y - 1) * width + x] || !mask[(y + 1) * width + x];
    if (edge) set(x, y, 255); else if (fill) set(x, y, 110);
  }
  return data;
}

function findingText(image) {
  const f = image.finding;
  if (!f) return "not analysed (no model finding yet)";
  const area = f.area_mm2 != null ? `${f.area_mm2.toFixed(1)} mm²` : `${f.area_px} px`;
  const conf = f.confidence != null ? `confidence ${(f.confidence * 100).toFixed(0)} %` : "";
  const what = f.label === "lesion" ? `lesion${f.lesions > 1 ? `s (${f.lesions})` : ""} · ${area}` : "no lesion";
  return [what, conf, `model ${f.model} ${f.model_version}`].filter(Boolean).join(" · ");
}

function when(tUs) { return new Date(tUs / 1000).toLocaleString(); }

class ImageCard {
  constructor(image, toggles) {
    this.image = image;
    this.toggles = toggles;
    this.layers = {};   // name -> Uint8Array mask
    const {width, height} = image;
    this.canvas = el("canvas", {width: String(width * SCALE), height: String(height * SCALE), class: "img",
                                "aria-label": `image ${image.seq}`});
    this.canvas.style.width = `${width * SCALE}px`;
    const spacing = image.spacing_mm ? `${image.spacing_mm[1]} × ${image.spacing_mm[0]} mm/px` : "spacing unknown";
    this.finding = el("div", {class: "finding"}, findingText(image));
    this.scale = el("div", {class: "scale"});
    this.root = el("article", {class: "image-card", "data-image-id": image.image_id},
      el("div", {class: "meta"}, el("b", {}, `${image.modality || "image"} #${image.seq}`), " ",
         el("span", {class: "muted"}, `${when(image.t_us)} · ${width}×${height} px · ${spacing} · ${image.device}`)),
      this.canvas, this.scale, this.finding);
    this.root.dataset.layers = image.layers.map(l => l.layer).sort().join(",");
  }

  async load() {
    const base = `/api/v1/images/${this.image.image_id}`;
    const [img, ...masks] = await Promise.all([
      loadImage(`${base}/image.png`),
      ...this.image.layers.map(l => json(`${base}/masks/${l.layer}`)),
    ]);
    this.img = img;
    for (const m of masks) this.layers[m.layer] = decodeRle(m.mask_rle, m.shape[0], m.shape[1]);
    this.draw();
    this.root.dataset.loaded = "1";
  }

  draw() {
    if (!this.img) return;
    const ctx = this.canvas.getContext("2d");
    const {width, height} = this.image;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.img, 0, 0, width * SCALE, height * SCALE);
    const shown = [];
    const layered = document.createElement("canvas");
    layered.width = width * SCALE; layered.height = height * SCALE;
    const lctx = layered.getContext("2d");
    if (this.toggles.predicted && this.layers.predicted) {
      lctx.putImageData(overlay(lctx, this.layers.predicted, height, width, PREDICTED, true), 0, 0);
      ctx.drawImage(layered, 0, 0);
      shown.push("predicted");
    }
    if (this.toggles.ground_truth && this.layers.ground_truth) {
      lctx.clearRect(0, 0, layered.width, layered.height);
      lctx.putImageData(overlay(lctx, this.layers.ground_truth, height, width, TRUTH, false), 0, 0);
      ctx.drawImage(layered, 0, 0);
      shown.push("ground_truth");
    }
    this.root.dataset.shown = shown.sort().join(",");
    const bar = scaleBar(this.image.spacing_mm, width);
    if (bar) {
      const x = 8, y = height * SCALE - 10;
      ctx.fillStyle = "#ffffff"; ctx.fillRect(x, y, bar.px, 3);
      ctx.font = "11px system-ui, sans-serif"; ctx.fillText(`${bar.mm} mm`, x, y - 4);
      this.scale.textContent = `scale bar ${bar.mm} mm = ${bar.px.toFixed(0)} px on screen`;
      this.root.dataset.scaleMm = String(bar.mm);
      this.root.dataset.scalePx = bar.px.toFixed(2);
    } else {
      this.scale.textContent = "no pixel spacing: no scale bar";
    }
  }
}

export function mountImagePanel(container, patient, {limit = 12, pollMs = 10000} = {}) {
  const toggles = {predicted: true, ground_truth: true};
  const cards = new Map();   // image_id -> ImageCard
  const list = el("div", {class: "image-list"});
  const status = el("p", {class: "muted image-status"}, "loading images…");
  const box = (name, label, rgb) => {
    const input = el("input", {type: "checkbox", "data-layer": name});
    input.checked = true;
    input.onchange = () => { toggles[name] = input.checked; for (const c of cards.values()) c.draw(); };
    return el("label", {class: "toggle"}, input, el("span", {class: "swatch", style: `background: rgb(${rgb})`}), label);
  };
  const root = el("section", {class: "image-panel", "data-patient": patient},
    el("div", {class: "image-head"}, el("h2", {}, "Images"),
       box("predicted", "model prediction", PREDICTED), box("ground_truth", "ground truth", TRUTH)),
    status, list);
  container.append(root);
  let timer = null;

  async function refresh() {
    let images;
    try {
      ({images} = await json(`/api/v1/patients/${encodeURIComponent(patient)}/images?limit=${limit}`));
    } catch (e) { status.textContent = `images unavailable: ${e.message}`; return; }
    status.textContent = images.length ? "" : "no images of this patient yet";
    for (const image of images) {
      let card = cards.get(image.image_id);
      if (card && JSON.stringify(card.image) === JSON.stringify(image)) continue;  // unchanged
      const fresh = new ImageCard(image, toggles);
      if (card) card.root.replaceWith(fresh.root); else list.append(fresh.root);
      cards.set(image.image_id, fresh);
      fresh.load().catch(e => { fresh.finding.textContent = `could not load: ${e.message}`; });
    }
    // newest first, at most `limit`
    const order = images.map(i => i.image_id);
    for (const [id, card] of cards) if (!order.includes(id)) { card.root.remove(); cards.delete(id); }
    for (const id of order) list.append(cards.get(id).root);
  }

  refresh();
  if (pollMs) timer = setInterval(refresh, pollMs);
  return {refresh, destroy() { clearInterval(timer); root.remove(); }, toggles};
}
