// The upload page: start a job, send each file in checksummed chunks (resuming from the
// server's last confirmed offset), then follow the check, confirm/prune and import steps.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);
  const JOB_KEY = `omeroweb_upload.job.${config.user}`;
  const RETRIES = 5;
  let pollTimer = null;

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
  const relativePath = (file) => file.webkitRelativePath || file.name;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function selectedFiles() {
    const byPath = new Map();
    for (const input of [$("files"), $("folder")]) {
      for (const file of input.files) byPath.set(relativePath(file), file);
    }
    return byPath;
  }

  // -- sending one file ---------------------------------------------------------------------

  // Each chunk carries X-Prefix-Sha256, the digest of the file up to its end: the server
  // carries the same running digest on and checks the whole file without reading it again.
  // A server that cannot (prefix_unsupported) gets each chunk's own digest instead.
  let prefixDigests = true;

  async function sendFile(jobId, entry, file, onProgress) {
    let hasher = new window.UploadSha256();
    let offset = entry.received_bytes;
    // A resumed file: hash the part the server already has (the digests cover it all).
    for (let p = 0; p < offset; p += config.chunkBytes) {
      const end = Math.min(p + config.chunkBytes, offset);
      hasher.update(new Uint8Array(await file.slice(p, end).arrayBuffer()));
    }
    while (offset < file.size) {
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
                + `e.g. ${missing[0].relative_path}`);
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

  // -- rendering ----------------------------------------------------------------------------

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

  function formatBytes(n) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  function renderJob(job) {
    $("upload-job").hidden = false;
    $("upload-job").dataset.state = job.state;
    $("job-state").textContent = job.state.replace("_", " ");
    const body = document.querySelector("#job-files tbody");
    body.replaceChildren(...job.files.map((f) => {
      const row = document.createElement("tr");
      row.dataset.index = f.index;
      row.dataset.state = f.state;
      row.dataset.compat = f.compat;
      const keep = document.createElement("input");
      keep.type = "checkbox";
      keep.className = "keep";
      keep.value = f.relative_path;
      keep.checked = f.compat !== "incompatible";
      keep.disabled = job.state !== "awaiting_confirmation" || f.state !== "uploaded";
      const bar = document.createElement("progress");
      bar.max = Math.max(f.size, 1);
      bar.value = f.state === "skipped" ? 0 : f.received_bytes;
      const status = f.skip_reason ? `skipped: ${f.skip_reason}`
        : f.error ? `${f.state}: ${f.error}`
        : f.image_ids.length ? `${f.state} (Image ${f.image_ids.join(", ")})`
        : f.compat === "incompatible" ? `${f.state}, OMERO cannot read it` : f.state;
      const cells = [keep, f.relative_path, f.dataset || "", bar, status];
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
    if (["done", "error"].includes(job.state)) {
      localStorage.removeItem(JOB_KEY);
    } else if (["checking", "importing"].includes(job.state)) {
      pollTimer = setTimeout(() => follow(jobId).catch((e) => showError(e.message)), 1000);
    }
    return job;
  }

  // -- actions ------------------------------------------------------------------------------

  async function startOrResume() {
    showError("");
    const files = selectedFiles();
    if (!files.size) { showError("Choose files or a folder first."); return; }
    $("start").disabled = true;
    try {
      let job = null;
      const previous = localStorage.getItem(JOB_KEY);
      if (previous) {
        job = await api(`status/${previous}/`).catch(() => null);
        if (!job || job.state !== "uploading") job = null;
      }
      if (!job) {
        const semEdx = $("sem-edx").checked;
        saveSettings();
        job = await postJson("start/", {
          project_id: $("project").value ? Number($("project").value) : null,
          files: Array.from(files.values(), (f) => ({ relative_path: relativePath(f),
                                                       size: f.size })),
          compatibility_enabled: $("compatibility").checked,
          special_upload: semEdx ? "sem_edx_spectra" : null,
        });
        localStorage.setItem(JOB_KEY, job.id);
      }
      renderJob(job);
      await sendAll(job, files);
      await follow(job.id);
    } catch (error) {
      showError(error.message);
    } finally {
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

  async function previewSpectra() {
    const box = $("spectra");
    box.replaceChildren();
    if (!$("sem-edx").checked) return;
    for (const file of selectedFiles().values()) {
      if (!file.name.toLowerCase().endsWith(".txt")) continue;
      try {
        const response = await fetch(config.base + "sem-edx-preview/", {
          method: "POST", credentials: "same-origin", body: file,
          headers: { "X-CSRFToken": csrf, "Content-Type": "application/octet-stream" },
        });
        if (!response.ok) throw new Error((await response.json()).error.message);
        const image = document.createElement("img");
        image.alt = `spectrum ${file.name}`;
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

  // The user's choices are kept server-side (per user, any browser).
  function saveSettings() {
    postJson("user-settings/", { settings: {
      project_id: $("project").value || null, compatibility: $("compatibility").checked,
      sem_edx: $("sem-edx").checked,
    } }).catch(() => {});  // losing a preference must not stop an upload
  }

  async function init() {
    $("sem-edx-option").hidden = !config.specialMethods;
    const [{ projects }, { settings }] = await Promise.all([api("projects/"),
                                                            api("user-settings/")]);
    for (const p of projects) $("project").append(new Option(p.name, p.id));
    if (settings.project_id && projects.some((p) => String(p.id) === settings.project_id)) {
      $("project").value = settings.project_id;
    }
    if (typeof settings.compatibility === "boolean") {
      $("compatibility").checked = settings.compatibility;
    }
    if (typeof settings.sem_edx === "boolean" && config.specialMethods) {
      $("sem-edx").checked = settings.sem_edx;
    }
    $("start").addEventListener("click", startOrResume);
    $("prune").addEventListener("click", () => act("prune", {
      keep_paths: Array.from(document.querySelectorAll(".keep:checked"), (box) => box.value),
    }));
    $("confirm").addEventListener("click", () => act("confirm"));
    $("import").addEventListener("click", () => act("import"));
    for (const id of ["files", "folder", "sem-edx"]) {
      $(id).addEventListener("change", previewSpectra);
    }
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
})();
