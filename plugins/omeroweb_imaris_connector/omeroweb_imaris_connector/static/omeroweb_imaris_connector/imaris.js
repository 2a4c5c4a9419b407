// The Imaris export page: choose images (typed ids, or preselected by the webclient's
// "Open with" entry: ?image=1&image=2), start one export job each, follow the jobs, download.
import { pageConfig, postJson } from "../omero_plugin_common/job-progress.js";
import { preselection, webclientLink } from "../omero_plugin_common/links.js";
import { cell, header } from "../omero_plugin_common/table.js";

const config = pageConfig();
const chosen = new Map();  // image id → {id, name, found, exportable}
const startButton = document.getElementById("export-start");
let pollTimer = null;

function say(id, text, kind = "info") {
  const node = document.getElementById(id);
  node.textContent = text;
  node.dataset.kind = kind;
}

function emptyRow(text, columns) {
  const tr = document.createElement("tr");
  tr.className = "empty";
  const td = cell(text);
  td.colSpan = columns;
  tr.append(td);
  return tr;
}

function imageName(image) {
  return image.found ? webclientLink("image", image.id, image.name || `Image ${image.id}`)
    : document.createTextNode(`Image ${image.id}`);
}

function renderChosen() {
  const table = document.getElementById("chosen-table");
  header(table, ["Image", "ID", "Status", "_Remove"]);
  const rows = [...chosen.values()].map((image) => {
    const tr = document.createElement("tr");
    tr.dataset.image = String(image.id);
    const status = !image.found ? "Not found, or you cannot read it."
      : image.exportable ? "Ready to export." : "You may not download this image.";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove image ${image.id} from the list`);
    remove.addEventListener("click", () => {
      chosen.delete(image.id);
      if (![...chosen.values()].some((i) => !i.found)) say("choose-message", "");
      renderChosen();
    });
    tr.append(cell(imageName(image)), cell(String(image.id), "num"),
              cell(status, image.exportable ? "" : "state-failed"), cell(remove));
    return tr;
  });
  table.tBodies[0].replaceChildren(...(rows.length ? rows
    : [emptyRow("No images chosen yet.", 4)]));
  const ready = [...chosen.values()].filter((i) => i.exportable).length;
  startButton.disabled = ready === 0;
  document.getElementById("start-hint").textContent = ready
    ? `${ready} image${ready === 1 ? "" : "s"} will be exported.` : "Choose at least one image.";
}

async function addImages(ids) {
  const fresh = ids.filter((id) => !chosen.has(id));
  if (!fresh.length) return;
  if (chosen.size + fresh.length > config.maxImages) {
    say("choose-message", `At most ${config.maxImages} images can be chosen at once.`, "error");
    return;
  }
  const query = new URLSearchParams(fresh.map((id) => ["id", String(id)]));
  const response = await fetch(`${config.imagesUrl}?${query}`, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    say("choose-message", body.error ? `${body.error.message}.` : "The images could not be looked up.", "error");
    return;
  }
  for (const image of body.images) chosen.set(image.id, image);
  const missing = body.images.filter((i) => !i.found).map((i) => i.id);
  say("choose-message", missing.length
    ? `Image ${missing.join(", ")} was not found, or you cannot read it.` : "", "error");
  renderChosen();
}

document.getElementById("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("image-ids");
  const parts = input.value.split(/[\s,;]+/).filter(Boolean);
  const bad = parts.filter((p) => !/^[1-9][0-9]{0,17}$/.test(p));
  if (bad.length || !parts.length) {
    say("choose-message", parts.length
      ? `"${bad[0]}" is not an image ID: IDs are whole numbers such as 12.`
      : "Type one or more image IDs first.", "error");
    return;
  }
  await addImages(parts.map(Number));
  input.value = "";
});

startButton.addEventListener("click", async () => {
  const images = [...chosen.values()].filter((i) => i.exportable);
  startButton.disabled = true;
  let started = 0;
  const failed = [];
  for (const image of images) {
    try {
      await postJson(config.startUrl, { image: image.id, async: true });
      chosen.delete(image.id);
      started += 1;
    } catch (error) {
      failed.push(`image ${image.id}: ${error.message}`);
    }
  }
  renderChosen();
  say("start-message", failed.length
    ? `Started ${started} export${started === 1 ? "" : "s"}; not started: ${failed.join("; ")}.`
    : `Started ${started} export${started === 1 ? "" : "s"}. Follow them below.`,
  failed.length ? "error" : "ok");
  await loadJobs();
});

function stateCell(job) {
  const td = cell("", `state-${job.state}`);
  if (!job.finished) {
    const bar = document.createElement("progress");
    bar.max = job.total || 1;
    if (job.total) bar.value = job.done;  // no value: an indeterminate bar while it starts
    bar.setAttribute("aria-label", `Progress of the export of image ${job.image}`);
    const words = job.state === "running" && job.percent !== null
      ? `running, ${Math.round(job.percent)} %` : job.state;
    td.append(bar, ` ${words}`);
    if (job.eta_seconds) td.append(`, about ${Math.ceil(job.eta_seconds)} s left`);
    return td;
  }
  td.textContent = job.state === "succeeded" ? "ready"
    : job.state === "failed" ? `failed: ${job.error || "no reason given"}` : job.state;
  return td;
}

function actionCell(job) {
  if (job.state === "succeeded" && !job.expired) {
    const a = document.createElement("a");
    a.href = job.download_url;
    a.className = "button primary";
    a.textContent = "Download";
    a.setAttribute("aria-label", `Download ${job.export_name || `the export of image ${job.image}`}`);
    return cell(a);
  }
  if (job.state === "succeeded") return cell("Expired: the file stays attached to the image.");
  if (!job.finished) {
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel the export of image ${job.image}`);
    cancel.disabled = job.cancel_requested;
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try { await postJson(job.cancel_url, {}); } catch (error) { say("jobs-status", error.message, "error"); }
      await loadJobs();
    });
    return cell(cancel);
  }
  return cell("");
}

function size(bytes) {
  if (!bytes) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes, i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function loadJobs() {
  const table = document.getElementById("jobs-table");
  header(table, ["Image", "Started", "State", "Size", "_Action"]);
  try {
    const response = await fetch(config.listUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { exports } = await response.json();
    // The list is rebuilt on each poll: keep the keyboard focus on the same control.
    const focused = table.contains(document.activeElement)
      ? document.activeElement.getAttribute("aria-label") : null;
    table.tBodies[0].replaceChildren(...(exports.length ? exports.map((job) => {
      const tr = document.createElement("tr");
      tr.dataset.job = job.id;
      tr.dataset.state = job.state;
      tr.dataset.expired = String(job.expired);
      const image = job.image ? webclientLink("image", job.image, job.image_name || `Image ${job.image}`) : "–";
      tr.append(cell(image), cell(new Date(job.created_at).toLocaleString()), stateCell(job),
                cell(size(job.size), "num"), actionCell(job));
      return tr;
    }) : [emptyRow("No exports yet.", 5)]));
    if (focused) table.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
    const running = exports.filter((j) => !j.finished).length;
    document.getElementById("jobs-status").textContent = running
      ? `${running} export${running === 1 ? "" : "s"} running; this list updates itself.`
      : `Updated ${new Date().toLocaleTimeString()}.`;
    clearTimeout(pollTimer);
    if (running) pollTimer = setTimeout(loadJobs, 1500);
  } catch (error) {
    document.getElementById("jobs-status").textContent = `The exports could not be listed (${error.message}).`;
  }
}

document.getElementById("jobs-refresh").addEventListener("click", loadJobs);
renderChosen();
loadJobs();
const preselected = preselection().image;
if (preselected.length) addImages(preselected.slice(0, config.maxImages));
