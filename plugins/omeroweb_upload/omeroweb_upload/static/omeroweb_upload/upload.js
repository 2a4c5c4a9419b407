// The upload page: collect files (pickers or drag and drop), let the user review them as a
// tree, start a job, send each file in checksummed chunks (resuming from the server's last
// confirmed offset), then follow the check, confirm/prune and import steps.
import { csrfToken, pageConfig } from "../omero_plugin_common/job-progress.js";
import { preselection, webclientLink, webclientUrl } from "../omero_plugin_common/links.js";

const config = pageConfig();
const csrf = csrfToken();
const $ = (id) => document.getElementById(id);
// The job shown on this page (running or finished) survives a reload until a new upload.
const JOB_KEY = `omeroweb_upload.job.${config.user}`;
const RETRIES = 5;
const SEM_EDX = "sem_edx_spectra";
let pollTimer = null;
let settings = {};
let projects = [];
// relative path → File: what the user chose, reviewed before the upload starts.
const chosen = new Map();
// spectrum path → image path chosen by the user (else: same name in the same folder).
const pairs = new Map();
let sending = null; // { cancelled } while this page sends chunks

function showError(message) { $("error").textContent = message || ""; }

async function api(path, options = {}) {
  const response = await fetch(config.base + path, {
    credentials: "same-origin", ...options,
    headers: { "X-CSRFToken": csrf, ...(options.headers || {}) },
  });
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const body = isJson ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error.message : `HTTP ${response.status}`);
    error.status = response.status;
    error.code = body && body.error ? body.error.code : null;
    throw error;
  }
  return body;
}

const postJson = (path, body) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body || {}),
});

const hex = (buffer) => Array.from(new Uint8Array(buffer),
  (b) => b.toString(16).padStart(2, "0")).join("");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isSpectrum = (path) => path.toLowerCase().endsWith(".txt");
const baseName = (path) => path.split("/").pop();
const stem = (path) => path.replace(/\.[^./]*$/, "");
const folderOf = (path) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");

// -- choosing files ---------------------------------------------------------------------------

function addFiles(entries) {
  const replaced = [];
  for (const [path, file] of entries) {
    if (chosen.has(path)) replaced.push(path);
    chosen.set(path, file);
  }
  renderSelection(replaced);
}

// Folders dropped from the desktop are walked through the FileSystem entry API.
async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push([prefix + entry.name, file]);
    return;
  }
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
  }
}

async function droppedFiles(dataTransfer) {
  const out = [];
  const items = Array.from(dataTransfer.items || []).filter((i) => i.kind === "file");
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (entries.length && entries.every(Boolean)) {
    for (const entry of entries) await walk(entry, "", out);
  } else {
    for (const file of dataTransfer.files) out.push([file.name, file]);
  }
  return out;
}

function setupDrop() {
  const overlay = $("drop-overlay");
  let depth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event) || $("upload-form").hidden) return;
    depth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) overlay.hidden = true;
  });
  document.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  document.addEventListener("drop", async (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    if ($("upload-form").hidden) return;
    try {
      addFiles(await droppedFiles(event.dataTransfer));
    } catch (error) {
      showError(`The dropped items could not be read: ${error.message}`);
    }
  });
}

function formatBytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function removeButton(label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "remove";
  button.textContent = "Remove";
  button.setAttribute("aria-label", `Remove ${label}`);
  button.addEventListener("click", onClick);
  return button;
}

// The review tree: one branch per dataset-to-be (top-level folder), files below.
function renderSelection(replaced = []) {
  const paths = [...chosen.keys()].sort();
  $("selection").hidden = !paths.length;
  let bytes = 0;
  for (const f of chosen.values()) bytes += f.size;
  $("selection-summary").textContent = `${paths.length} file(s), ${formatBytes(bytes)}`;
  const groups = new Map();
  for (const path of paths) {
    const top = path.includes("/") ? path.split("/")[0] : "";
    if (!groups.has(top)) groups.set(top, []);
    groups.get(top).push(path);
  }
  const branches = [];
  for (const [top, members] of groups) {
    const li = document.createElement("li");
    li.className = "branch";
    const head = document.createElement("span");
    head.className = "dataset-name";
    head.textContent = top ? `${top}/ (dataset "${top}")` : "Files at the top (one extra dataset)";
    li.append(head);
    if (top) {
      li.append(removeButton(`folder ${top}`, () => {
        members.forEach((p) => chosen.delete(p));
        renderSelection();
      }));
    }
    const list = document.createElement("ul");
    for (const path of members) {
      const item = document.createElement("li");
      item.dataset.path = path;
      const name = document.createElement("span");
      name.textContent = `${top ? path.slice(top.length + 1) : path} (${formatBytes(chosen.get(path).size)})`;
      item.append(name, removeButton(path, () => { chosen.delete(path); renderSelection(); }));
      list.append(item);
    }
    li.append(list);
    branches.push(li);
  }
  $("tree").replaceChildren(...branches);
  renderWarnings(groups, replaced);
  renderPairs();
  previewSpectra();
}

// Files of one dataset with the same name (from different sub-folders) would be
// indistinguishable in OMERO; a file chosen twice replaces the first.
function renderWarnings(groups, replaced) {
  const warnings = replaced.map((p) => `${p} was already in the list: the new copy replaces it.`);
  for (const [top, members] of groups) {
    const seen = new Map();
    for (const path of members) {
      const name = baseName(path).toLowerCase();
      seen.set(name, [...(seen.get(name) || []), path]);
    }
    for (const [, same] of seen) {
      if (same.length > 1) {
        warnings.push(`${same.length} files named ${baseName(same[0])} go to dataset `
          + `"${top || "(files at the top)"}": ${same.join(", ")}.`);
      }
    }
  }
  $("warnings").replaceChildren(...warnings.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
}

// -- SEM-EDX: which image each spectrum belongs to ---------------------------------------------

function semEdx() { return config.specialMethods && $("sem-edx").checked; }

function defaultImage(spectrum, images) {
  return images.find((p) => folderOf(p) === folderOf(spectrum)
    && stem(baseName(p)).toLowerCase() === stem(baseName(spectrum)).toLowerCase()) || "";
}

function renderPairs() {
  const panel = $("sem-edx-panel");
  const spectra = [...chosen.keys()].filter(isSpectrum).sort();
  panel.hidden = !semEdx() || !spectra.length;
  if (panel.hidden) return;
  const images = [...chosen.keys()].filter((p) => !isSpectrum(p)).sort();
  const rows = spectra.map((spectrum) => {
    const tr = document.createElement("tr");
    const select = document.createElement("select");
    select.className = "pair";
    select.dataset.spectrum = spectrum;
    select.setAttribute("aria-label", `Image for spectrum ${spectrum}`);
    select.append(new Option("(none: attach to the dataset)", ""));
    for (const image of images) select.append(new Option(image, image));
    const wanted = pairs.get(spectrum);
    select.value = wanted && images.includes(wanted) ? wanted : defaultImage(spectrum, images);
    select.addEventListener("change", () => pairs.set(spectrum, select.value));
    tr.insertCell().textContent = spectrum;
    tr.insertCell().append(select);
    return tr;
  });
  $("pairs").tBodies[0].replaceChildren(...rows);
}

function associations() {
  const out = {};
  for (const select of document.querySelectorAll("select.pair")) {
    if (select.value) out[select.dataset.spectrum] = select.value;
  }
  return out;
}

function semEdxSettings() {
  return {
    create_tables: $("sem-tables").checked,
    create_figures_attachments: $("sem-figure-attachments").checked,
    create_figures_images: $("sem-figure-images").checked,
  };
}

let previewRound = 0;

async function previewSpectra() {
  const round = ++previewRound; // a newer selection supersedes plots still being drawn
  const box = $("spectra");
  box.replaceChildren();
  if (!semEdx()) return;
  for (const [path, file] of [...chosen]) {
    if (!isSpectrum(path)) continue;
    if (round !== previewRound) return;
    try {
      const response = await fetch(config.base + "sem-edx-preview/", {
        method: "POST", credentials: "same-origin", body: file,
        headers: { "X-CSRFToken": csrf, "Content-Type": "application/octet-stream" },
      });
      if (!response.ok) throw new Error((await response.json()).error.message);
      if (round !== previewRound) return;
      const image = document.createElement("img");
      image.alt = `Spectrum of ${file.name}`;
      image.className = "spectrum";
      image.src = URL.createObjectURL(await response.blob());
      box.append(image);
      // The reader's warnings (e.g. #NPOINTS disagreeing with the data), also on the image.
      for (const warning of JSON.parse(response.headers.get("X-Spectrum-Warnings") || "[]")) {
        const note = document.createElement("p");
        note.className = "warning";
        note.textContent = `${file.name}: ${warning}`;
        box.append(note);
      }
    } catch (error) {
      const note = document.createElement("p");
      note.className = "error";
      note.textContent = `${file.name}: ${error.message}`;
      box.append(note);
    }
  }
}

// -- sending one file ---------------------------------------------------------------------

// Each chunk carries X-Prefix-Sha256, the digest of the file up to its end: the server
// carries the same running digest on and checks the whole file without reading it again.
// A server that cannot (prefix_unsupported) gets each chunk's own digest instead.
let prefixDigests = true;

class Cancelled extends Error {}

async function sendFile(jobId, entry, file, onProgress) {
  let hasher = new window.UploadSha256();
  let offset = entry.received_bytes;
  // A resumed file: hash the part the server already has (the digests cover it all).
  for (let p = 0; p < offset; p += config.chunkBytes) {
    const end = Math.min(p + config.chunkBytes, offset);
    hasher.update(new Uint8Array(await file.slice(p, end).arrayBuffer()));
  }
  while (offset < file.size) {
    if (sending && sending.cancelled) throw new Cancelled();
    const end = Math.min(offset + config.chunkBytes, file.size);
    const buffer = await file.slice(offset, end).arrayBuffer();
    const after = hasher.copy().update(new Uint8Array(buffer));
    const headers = { "Content-Type": "application/octet-stream" };
    if (prefixDigests) {
      headers["X-Prefix-Sha256"] = after.copy().hex();
    } else {
      headers["X-Chunk-Sha256"] = hex(await crypto.subtle.digest("SHA-256", buffer));
      if (end === file.size) headers["X-File-Sha256"] = after.copy().hex();
    }
    let result;
    try {
      result = await api(`upload/${jobId}/${entry.index}/?offset=${offset}`,
        { method: "POST", headers, body: buffer });
    } catch (error) {
      if (error.code !== "prefix_unsupported" || !prefixDigests) throw error;
      prefixDigests = false;
      continue;
    }
    hasher = after;
    offset = result.received_bytes;
    onProgress(entry.index, offset);
  }
}

async function sendWithRetries(jobId, entry, file, onProgress) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sendFile(jobId, entry, file, onProgress);
    } catch (error) {
      if (error instanceof Cancelled || (sending && sending.cancelled)) throw new Cancelled();
      const retryable = !error.status || error.status >= 500 || error.code === "wrong_offset"
        || error.code === "chunk_in_progress" || error.code === "checksum_mismatch";
      if (!retryable || attempt >= RETRIES) throw error;
      await sleep(500 * attempt);
      // Continue from what the server confirmed, not from what this page believes.
      const status = await api(`status/${jobId}/`);
      entry = status.files.find((f) => f.index === entry.index);
      if (entry.state !== "pending") return;
    }
  }
}

async function sendAll(job, files) {
  const pending = job.files.filter((f) => f.state === "pending");
  const missing = pending.filter((f) => !files.has(f.relative_path));
  if (missing.length) {
    showError(`Select the same files again to continue: ${missing.length} file(s) missing, `
              + `e.g. ${missing[0].relative_path}.`);
    return;
  }
  const received = new Map(job.files.map((f) => [f.index, f.received_bytes]));
  const onProgress = (index, bytes) => {
    received.set(index, bytes);
    renderProgress(job, received);
  };
  const queue = pending.slice();
  const worker = async () => {
    while (queue.length) {
      const entry = queue.shift();
      await sendWithRetries(job.id, entry, files.get(entry.relative_path), onProgress);
    }
  };
  const lanes = Math.max(1, Math.min(config.concurrency, queue.length));
  await Promise.all(Array.from({ length: lanes }, worker));
}

// -- rendering the job ----------------------------------------------------------------------

const STATE_NAMES = {
  uploading: "Uploading", checking: "Checking that OMERO can read the files",
  awaiting_confirmation: "Waiting for your decision", ready: "Ready to import",
  importing: "Importing", done: "Done", error: "Stopped with errors",
};

function renderProgress(job, received) {
  let total = 0, done = 0;
  for (const f of job.files) {
    if (f.state === "skipped") continue;
    total += f.size;
    done += received.get(f.index) || 0;
    const bar = document.querySelector(`tr[data-index="${f.index}"] progress`);
    if (bar) bar.value = received.get(f.index) || 0;
  }
  $("job-progress").max = Math.max(total, 1);
  $("job-progress").value = done;
  $("job-summary").textContent = `${formatBytes(done)} of ${formatBytes(total)} uploaded`;
}

function statusCell(f, cancelled) {
  const cell = document.createElement("span");
  if (cancelled && ["pending", "uploaded"].includes(f.state)) {
    cell.textContent = "not imported (cancelled)";
    return cell;
  }
  if (f.skip_reason) { cell.textContent = `skipped: ${f.skip_reason}`; return cell; }
  if (f.error) { cell.textContent = `${f.state}: ${f.error}`; return cell; }
  if (f.image_ids.length) {
    cell.append(`${f.state} (`);
    f.image_ids.forEach((id, i) => {
      if (i) cell.append(", ");
      cell.append(webclientLink("image", id, `Image ${id}`));
    });
    cell.append(")");
    return cell;
  }
  cell.textContent = f.compat === "incompatible" ? `${f.state}, OMERO cannot read it` : f.state;
  return cell;
}

function renderJob(job) {
  $("upload-job").hidden = false;
  $("upload-job").dataset.state = job.state;
  const cancelled = Boolean(job.options && job.options.cancelled);
  $("job-state").textContent = cancelled ? "Cancelled" : STATE_NAMES[job.state] || job.state;
  const body = document.querySelector("#job-files tbody");
  body.replaceChildren(...job.files.map((f) => {
    const row = document.createElement("tr");
    row.dataset.index = f.index;
    row.dataset.state = f.state;
    row.dataset.compat = f.compat;
    let keep = "";
    if (f.state !== "skipped" && f.state !== "pruned") {  // nothing to keep or drop
      keep = document.createElement("input");
      keep.type = "checkbox";
      keep.className = "keep";
      keep.value = f.relative_path;
      keep.checked = f.compat !== "incompatible";
      keep.disabled = job.state !== "awaiting_confirmation" || f.state !== "uploaded";
      keep.setAttribute("aria-label", `Keep ${f.relative_path}`);
    }
    const bar = document.createElement("progress");
    bar.max = Math.max(f.size, 1);
    bar.value = f.state === "skipped" ? 0 : f.received_bytes;
    bar.setAttribute("aria-label", `${f.relative_path} uploaded`);
    const cells = [keep, f.relative_path, f.dataset || "", bar, statusCell(f, cancelled)];
    row.replaceChildren(...cells.map((content) => {
      const cell = document.createElement("td");
      cell.append(content);
      return cell;
    }));
    return row;
  }));
  const waiting = job.state === "awaiting_confirmation";
  $("job-actions").hidden = !(waiting || job.state === "ready");
  $("prune").hidden = !waiting;
  $("confirm").hidden = !waiting;
  $("import").hidden = job.state !== "ready";
  $("job-question").textContent = waiting
    ? `${job.compatibility.incompatible} file(s) cannot be read by OMERO. Uncheck files to `
      + "remove them, or import anyway." : "All files are uploaded.";
  const finished = ["done", "error"].includes(job.state);
  $("cancel").hidden = finished;
  $("cancel").textContent = job.state === "importing" ? "Cancel the import" : "Cancel the upload";
  $("new-upload").hidden = !finished;
  $("upload-form").hidden = job.state !== "uploading";
  const link = $("result-link");
  link.hidden = !finished || !job.project_id;
  if (job.project_id) link.href = webclientUrl("project", job.project_id);
  $("job-messages").replaceChildren(...job.messages.map((m) => {
    const item = document.createElement("li");
    item.textContent = m;
    return item;
  }));
  if (job.state === "importing" && job.import_job) {
    $("job-progress").max = Math.max(job.import_job.total || 1, 1);
    $("job-progress").value = job.import_job.done;
    $("job-summary").textContent = `importing: ${job.import_job.done} of `
      + `${job.import_job.total || "?"} file(s)`;
  } else if (job.state !== "uploading") {
    renderProgress(job, new Map(job.files.map((f) => [f.index, f.received_bytes])));
  }
}

async function follow(jobId) {
  clearTimeout(pollTimer);
  const job = await api(`status/${jobId}/`);
  renderJob(job);
  if (["checking", "importing"].includes(job.state)) {
    pollTimer = setTimeout(() => follow(jobId).catch((e) => showError(e.message)), 1000);
  }
  return job;
}

// -- actions ------------------------------------------------------------------------------

async function startOrResume() {
  showError("");
  if (!chosen.size) { showError("Choose files or a folder first."); return; }
  $("start").disabled = true;
  sending = { cancelled: false };
  try {
    let job = null;
    const previous = localStorage.getItem(JOB_KEY);
    if (previous) {
      job = await api(`status/${previous}/`).catch(() => null);
      if (!job || job.state !== "uploading") job = null;
    }
    if (!job) {
      const special = semEdx();
      saveSettings();
      job = await postJson("start/", {
        project_id: $("project").value ? Number($("project").value) : null,
        files: Array.from(chosen, ([path, f]) => ({ relative_path: path, size: f.size })),
        compatibility_enabled: $("compatibility").checked,
        special_upload: special ? SEM_EDX : null,
        ...(special ? { sem_edx_associations: associations(),
          sem_edx_settings: semEdxSettings() } : {}),
        ...(settings.batch_size ? { batch_size: settings.batch_size } : {}),
      });
      localStorage.setItem(JOB_KEY, job.id);
    }
    $("resume-note").hidden = true;
    renderJob(job);
    await sendAll(job, chosen);
    await follow(job.id);
  } catch (error) {
    if (!(error instanceof Cancelled)) showError(error.message);
  } finally {
    sending = null;
    $("start").disabled = false;
  }
}

async function act(path, body) {
  showError("");
  const jobId = localStorage.getItem(JOB_KEY);
  try {
    renderJob(await postJson(`${path}/${jobId}/`, body));
    await follow(jobId);
  } catch (error) {
    showError(error.message);
  }
}

async function cancel() {
  if (sending) sending.cancelled = true;
  $("cancel").disabled = true;
  try {
    await act("cancel");
  } finally {
    $("cancel").disabled = false;
  }
}

function newUpload() {
  clearTimeout(pollTimer);
  localStorage.removeItem(JOB_KEY);
  chosen.clear();
  pairs.clear();
  renderSelection();
  $("upload-job").hidden = true;
  $("upload-form").hidden = false;
  showError("");
}

// -- settings (kept server-side: per user, any browser) ------------------------------------

function saveSettings() {
  settings = { ...settings, project_id: $("project").value || null,
    compatibility: $("compatibility").checked, sem_edx: $("sem-edx").checked };
  postJson("user-settings/", { settings })
    .catch(() => {});  // losing a preference must not stop an upload
  if (config.specialMethods && $("sem-edx").checked) {
    postJson(`special-method-settings/${SEM_EDX}/`, { settings: semEdxSettings() })
      .catch(() => {});
  }
}

function applySettings() {
  if (settings.project_id && projects.some((p) => String(p.id) === settings.project_id)) {
    $("project").value = settings.project_id;
  }
  $("compatibility").checked = typeof settings.compatibility === "boolean"
    ? settings.compatibility : true;
  if (typeof settings.sem_edx === "boolean" && config.specialMethods) {
    $("sem-edx").checked = settings.sem_edx;
  }
  showProjectLink();
}

function showProjectLink() {
  const id = $("project").value;
  $("project-link").hidden = !id;
  if (id) $("project-link").href = webclientUrl("project", id);
}

function openSettings() {
  $("set-project").value = settings.project_id || "";
  $("set-compatibility").checked = settings.compatibility !== false;
  $("set-batch").value = settings.batch_size || "";
  $("settings-message").textContent = "";
  $("settings").showModal();
}

async function storeSettings(next, message) {
  try {
    settings = (await postJson("user-settings/", { settings: next })).settings;
    applySettings();
    $("settings-message").textContent = message;
  } catch (error) {
    $("settings-message").textContent = error.message;
  }
}

function saveSettingsPanel() {
  const batch = $("set-batch").value.trim();
  if (batch && !(Number(batch) >= 1 && Number(batch) <= 10)) {
    $("settings-message").textContent = "Files imported at once must be from 1 to 10.";
    return;
  }
  const next = { ...settings, project_id: $("set-project").value || null,
    compatibility: $("set-compatibility").checked };
  if (batch) next.batch_size = Number(batch); else delete next.batch_size;
  storeSettings(next, "Settings saved.");
}

async function init() {
  if (config.isRoot) {
    $("root-refused").hidden = false;
    return;
  }
  $("upload-form").hidden = false;
  $("sem-edx-option").hidden = !config.specialMethods;
  const [{ projects: found }, stored] = await Promise.all([api("projects/"),
    api("user-settings/")]);
  projects = found;
  settings = stored.settings || {};
  for (const p of projects) {
    $("project").append(new Option(`${p.name} (ID ${p.id})`, p.id));
    $("set-project").append(new Option(p.name, p.id));
  }
  if (config.specialMethods) {
    const sem = await api(`special-method-settings/${SEM_EDX}/`).catch(() => null);
    if (sem) {
      $("sem-tables").checked = sem.settings.create_tables;
      $("sem-figure-attachments").checked = sem.settings.create_figures_attachments;
      $("sem-figure-images").checked = sem.settings.create_figures_images;
    }
  }
  // Opened from the webclient's "Upload here…" on a project (?project=3).
  const wanted = String(preselection().project[0] || "");
  applySettings();
  if (wanted && projects.some((p) => String(p.id) === wanted)) $("project").value = wanted;
  showProjectLink();
  $("project").addEventListener("change", showProjectLink);
  $("choose-files").addEventListener("click", () => $("files").click());
  $("choose-folder").addEventListener("click", () => $("folder").click());
  for (const input of [$("files"), $("folder")]) {
    input.addEventListener("change", () => {
      addFiles(Array.from(input.files, (f) => [f.webkitRelativePath || f.name, f]));
      input.value = "";
    });
  }
  $("clear-all").addEventListener("click", () => { chosen.clear(); renderSelection(); });
  $("sem-edx").addEventListener("change", () => { renderPairs(); previewSpectra(); });
  $("start").addEventListener("click", startOrResume);
  $("prune").addEventListener("click", () => act("prune", {
    keep_paths: Array.from(document.querySelectorAll(".keep:checked"), (box) => box.value),
  }));
  $("confirm").addEventListener("click", () => act("confirm"));
  $("import").addEventListener("click", () => act("import"));
  $("cancel").addEventListener("click", cancel);
  $("new-upload").addEventListener("click", newUpload);
  $("settings-open").addEventListener("click", openSettings);
  $("settings-save").addEventListener("click", saveSettingsPanel);
  $("settings-restore").addEventListener("click", () => storeSettings({}, "Default settings restored."));
  setupDrop();
  document.body.dataset.ready = "true"; // every control is wired (tests wait for this)
  const previous = localStorage.getItem(JOB_KEY);
  if (previous) {
    const job = await follow(previous).catch(() => null);
    if (job && job.state === "uploading") {
      $("resume-note").hidden = false;
      $("resume-note").textContent = "An upload was interrupted: select the same files and "
        + "press Upload to continue where it stopped.";
    } else if (!job) {
      localStorage.removeItem(JOB_KEY);
    }
  }
}

init().catch((error) => showError(error.message));
