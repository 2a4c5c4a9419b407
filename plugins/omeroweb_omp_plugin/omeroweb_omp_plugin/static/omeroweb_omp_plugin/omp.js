// The OMP page: pick datasets, configure the parser, preview, start jobs and follow them.
// Every request goes to the plugin's JSON routes; jobs are followed with the shared
// job-progress module, and the running job's URL is kept in localStorage across reloads.
import { pageConfig, postJson, watchJob } from "../omero_plugin_common/job-progress.js";
import { preselection, webclientLink, webclientUrl } from "../omero_plugin_common/links.js";

const config = pageConfig();
const urls = config.urls || {};
const defaults = config.defaults || {};
const $ = (id) => document.getElementById(id);
const JOB_KEY = `omp-job:${config.user}`;
// What the webclient's "Parse filenames…" entry passed (?project=3 or ?dataset=5&dataset=7).
const chosenAtStart = preselection();
const state = {
  projects: null, datasets: [], datasetSort: { key: "name", dir: 1 },
  rows: [], rowSort: { key: "name", dir: 1 }, previewNotice: "", sets: [], settings: {},
  aiAnswer: null,
  jobRunning: false,
  pendingProject: String(config.preselectProject || chosenAtStart.project[0] || ""),
  pendingDatasets: chosenAtStart.dataset,
};

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body;
}

// kind: the shared stylesheet's message kinds: ok, info (neutral: a cancel is not an
// error), warn, error.
function tell(id, text, kind = "ok") {
  const node = $(id);
  node.textContent = text;
  node.dataset.kind = kind;
}

const say = (text, kind) => tell("message", text, kind);

function guarded(action, where = "message") {
  return async () => {
    try {
      await action();
    } catch (error) {
      tell(where, sentence(error.message), "error");
    }
  };
}

function sentence(text) {
  const t = String(text || "Something went wrong.").trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? "" : ".");
}

function option(value, text) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = text;
  return node;
}

// A modal question; resolves true only when the user presses the named action.
function confirmAction(text, okLabel = "Delete") {
  const dialog = $("confirm-dialog");
  $("confirm-dialog-text").textContent = text;
  $("confirm-dialog-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// -- projects and datasets ---------------------------------------------------------------

const PROJECT_GROUPS = [["owned", "My projects"], ["collab_rw", "Read-write groups"],
  ["collab_ra", "Read-annotate groups"]];

async function loadProjects() {
  state.projects = await getJson(urls.projects);
  $("collab-option").hidden = !state.projects.collab_available;
  const wanted = Number(state.pendingProject);
  if (wanted && !state.projects.owned.some((p) => p.id === wanted)) $("collab").checked = true;
  renderProjects();
}

function renderProjects() {
  const payload = state.projects;
  if (!payload) return;
  const select = $("project");
  const current = select.value || state.pendingProject;
  const needle = $("project-search").value.trim().toLowerCase();
  select.replaceChildren(option("", "Choose a project"));
  let shown = 0;
  for (const [kind, label] of PROJECT_GROUPS) {
    if (kind !== "owned" && !$("collab").checked) continue;
    const matches = payload[kind].filter((p) => !needle
      || `${p.name} ${p.owner}`.toLowerCase().includes(needle));
    if (!matches.length) continue;
    const group = document.createElement("optgroup");
    group.label = label;
    for (const p of matches) group.append(option(p.id, `${p.name} (${p.owner}, ID ${p.id})`));
    select.append(group);
    shown += matches.length;
  }
  if (needle && !shown) select.replaceChildren(option("", "No project matches the search"));
  const before = select.dataset.loaded;
  select.value = current;
  if (select.value) state.pendingProject = "";
  if (select.value !== before) loadDatasets().catch((e) => say(sentence(e.message), "error"));
}

async function loadDatasets() {
  const projectId = $("project").value;
  $("project").dataset.loaded = projectId;
  const link = $("project-link");
  link.hidden = !projectId;
  if (projectId) link.href = webclientUrl("project", projectId);
  state.datasets = [];
  if (projectId) {
    const { datasets } = await getJson(`${urls.datasets}?project_id=${projectId}`);
    const wanted = state.pendingDatasets;
    state.pendingDatasets = [];  // the webclient's choice applies to the first project only
    state.datasets = datasets.map((d) => ({ ...d, checked: !wanted.length || wanted.includes(d.id) }));
  }
  renderDatasets();
}

function compare(key, dir) {
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    const order = typeof x === "number" && typeof y === "number" ? x - y
      : String(x ?? "").localeCompare(String(y ?? ""), undefined, { numeric: true });
    return order * dir;
  };
}

function renderDatasets() {
  const table = $("datasets");
  const hint = $("datasets-hint");
  table.hidden = !state.datasets.length;
  hint.hidden = state.datasets.length > 0;
  hint.textContent = $("project").value ? "This project has no datasets." : "Choose a project.";
  const { key, dir } = state.datasetSort;
  const rows = [...state.datasets].sort(compare(key, dir)).map((d) => {
    const tr = document.createElement("tr");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "dataset";
    box.value = d.id;
    box.checked = d.checked;
    box.setAttribute("aria-label", `Include dataset ${d.name}`);
    box.addEventListener("change", () => { d.checked = box.checked; syncSelectAll(); });
    const cells = [box, webclientLink("dataset", d.id, d.name), String(d.image_count ?? ""),
      String(d.id)];
    tr.replaceChildren(...cells.map((content) => {
      const td = document.createElement("td");
      td.append(content);
      return td;
    }));
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  markSorted(table, state.datasetSort);
  syncSelectAll();
}

function markSorted(table, { key, dir }) {
  for (const button of table.querySelectorAll("button.sort")) {
    const th = button.closest("th");
    th.setAttribute("aria-sort", button.dataset.key !== key ? "none"
      : dir > 0 ? "ascending" : "descending");
  }
}

function syncSelectAll() {
  const all = $("datasets-all");
  const chosen = state.datasets.filter((d) => d.checked).length;
  all.checked = chosen > 0 && chosen === state.datasets.length;
  all.indeterminate = chosen > 0 && chosen < state.datasets.length;
}

function datasetIds() {
  return state.datasets.filter((d) => d.checked).map((d) => d.id);
}

// Sorting headers: a second click on the same column reverses the order.
function sortable(table, sortState, render) {
  table.addEventListener("click", (event) => {
    const button = event.target.closest("button.sort");
    if (!button) return;
    const key = button.dataset.key;
    sortState.dir = sortState.key === key ? -sortState.dir : 1;
    sortState.key = key;
    render();
  });
}

function requireDatasets(where) {
  const ids = datasetIds();
  if (!ids.length) {
    tell(where, "Choose a project and at least one dataset first.", "error");
    return null;
  }
  return ids;
}

// -- variables -------------------------------------------------------------------------

function variableRow(name) {
  const li = document.createElement("li");
  li.className = "variable-row";
  const input = document.createElement("input");
  input.type = "text";
  input.maxLength = 128;
  input.className = "variable";
  input.value = name;
  const buttons = [["up", "Move up", "↑"], ["down", "Move down", "↓"], ["remove", "Remove", "✕"]]
    .map(([action, label, glyph]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.action = action;
      b.textContent = glyph;
      b.title = label;
      return b;
    });
  li.append(input, ...buttons);
  return li;
}

function setVariables(names) {
  $("variables").replaceChildren(...names.slice(0, defaults.maxVariables).map(variableRow));
  labelVariables();
}

// Labels follow the position, so they are rewritten after every move.
function labelVariables() {
  const rows = [...$("variables").children];
  rows.forEach((li, i) => {
    li.querySelector("input").setAttribute("aria-label", `Variable ${i + 1} name`);
    for (const b of li.querySelectorAll("button")) {
      b.setAttribute("aria-label", `${b.title} variable ${i + 1}`);
    }
    li.querySelector("[data-action=up]").disabled = i === 0;
    li.querySelector("[data-action=down]").disabled = i === rows.length - 1;
  });
  $("variable-add").disabled = rows.length >= defaults.maxVariables;
}

function onVariableButton(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const li = button.closest("li");
  if (button.dataset.action === "remove") li.remove();
  if (button.dataset.action === "up" && li.previousElementSibling) {
    li.previousElementSibling.before(li);
  }
  if (button.dataset.action === "down" && li.nextElementSibling) li.nextElementSibling.after(li);
  labelVariables();
}

function variableNames() {
  const names = [...document.querySelectorAll(".variable")].map((i) => i.value.trim());
  while (names.length && !names[names.length - 1]) names.pop();
  return names;
}

function defaultVariables() {
  return state.settings.variables && state.settings.variables.length
    ? state.settings.variables : defaults.variables;
}

// -- parser and preview ------------------------------------------------------------------

function buildParserControls() {
  for (const sep of defaults.separators) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.className = "separator";
    input.value = sep;
    input.checked = sep === "_";
    const name = { " ": "space", "__": "double underscore" }[sep] || sep;
    label.append(input, document.createTextNode(` ${name}`));
    $("separators").append(label);
  }
  setVariables(defaults.variables);
  for (const p of defaults.providers) {
    $("ai-provider").append(option(p, p));
    $("set-ai-provider").append(option(p, p));
    if (p !== "local") $("key-provider").append(option(p, p));
  }
  $("confirm-word").textContent = config.deleteConfirmation;
  $("max-variables").textContent = defaults.maxVariables;
  $("max-sets").textContent = config.maxVariableSets;
}

// The ticked separators and each character typed under "Other separator characters"
// (code points, as the server counts them: an emoji is one character), without repeats.
function separators() {
  const ticked = [...document.querySelectorAll(".separator:checked")].map((i) => i.value);
  return [...new Set([...ticked, ...$("separator-chars").value])];
}

function parserSettings() {
  return {
    mode: document.querySelector("input[name=mode]:checked").value,
    separators: separators(),
    regex: $("regex").value,
    protect_hyphens: $("protect-hyphens").checked,
    variables: variableNames(),
  };
}

// The parser controls are remembered per user in this browser (as the original kept its
// separator box and mode), and come back on the next visit.
const PARSER_KEY = `omp-parser:${config.user}`;

function rememberParser() {
  localStorage.setItem(PARSER_KEY, JSON.stringify({
    mode: document.querySelector("input[name=mode]:checked").value,
    ticked: [...document.querySelectorAll(".separator:checked")].map((i) => i.value),
    chars: $("separator-chars").value,
    regex: $("regex").value,
    protect_hyphens: $("protect-hyphens").checked,
  }));
}

function setSeparators(list) {
  document.querySelectorAll(".separator").forEach((i) => { i.checked = list.includes(i.value); });
  $("separator-chars").value = list.filter((s) => !defaults.separators.includes(s)).join("");
}

function restoreParser() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(PARSER_KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved || typeof saved !== "object") return;
  if (Array.isArray(saved.ticked)) {
    document.querySelectorAll(".separator").forEach((i) => {
      i.checked = saved.ticked.includes(i.value);
    });
  }
  if (typeof saved.chars === "string") $("separator-chars").value = saved.chars;
  if (typeof saved.regex === "string") $("regex").value = saved.regex;
  if (typeof saved.protect_hyphens === "boolean") $("protect-hyphens").checked = saved.protect_hyphens;
  const mode = document.querySelector(`input[name=mode][value="${saved.mode === "regex" ? "regex" : "separators"}"]`);
  mode.checked = true;
}

function renderRows(target, rows, { selectable }) {
  const table = document.createElement("table");
  table.className = "grid";
  const width = Math.max(1, ...rows.map((r) => r.values.length));
  const keys = rows.find((r) => r.keys && r.keys.length === width)?.keys
    || Array.from({ length: width }, (_, i) => `Var${i + 1}`);
  const head = table.createTHead().insertRow();
  const columns = [["name", "Filename"], ["dataset_id", "Dataset ID"], ["image_id", "Image ID"],
    ...keys.map((k, i) => [`v${i}`, k])];
  if (selectable) {
    const th = document.createElement("th");
    const all = document.createElement("input");
    all.type = "checkbox";
    all.id = "images-all";
    all.checked = rows.every((r) => r.included);
    all.setAttribute("aria-label", "Include all images");
    all.addEventListener("change", () => {
      rows.forEach((r) => { r.included = all.checked; });
      renderRows(target, rows, { selectable });
    });
    th.append(all);
    head.append(th);
  }
  for (const [key, text] of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.dataset.key = key;
    button.textContent = text;
    th.append(button);
    head.append(th);
  }
  const body = table.createTBody();
  const { key, dir } = state.rowSort;
  const sorted = [...rows].sort(compare(key, dir));
  for (const row of sorted) {
    const tr = body.insertRow();
    if (row.writable === false) tr.className = "readonly";
    if (selectable) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "image";
      box.checked = row.included;
      box.disabled = row.writable === false;
      box.setAttribute("aria-label", `Include ${row.name}`);
      box.addEventListener("change", () => { row.included = box.checked; summarizePreview(); });
      tr.insertCell().append(box);
    }
    tr.insertCell().textContent = row.name;
    tr.insertCell().textContent = row.dataset_id ?? "";
    const idCell = tr.insertCell();
    if (row.image_id) idCell.append(webclientLink("image", row.image_id, String(row.image_id)));
    if (row.error) {  // a name too long to parse: the reason spans the value columns
      const cell = tr.insertCell();
      cell.colSpan = width;
      cell.textContent = row.error;
      continue;
    }
    for (let i = 0; i < width; i += 1) tr.insertCell().textContent = row.values[i] || "";
  }
  markSorted(table, state.rowSort);
  sortable(table, state.rowSort, () => renderRows(target, rows, { selectable }));
  target.replaceChildren(table);
}

function summarizePreview() {
  const rows = state.rows;
  const writable = rows.filter((r) => r.writable !== false).length;
  const included = rows.filter((r) => r.included).length;
  say(`${rows.length} image(s), ${writable} you may annotate; ${included} ticked to write.`
    + (state.previewNotice ? ` Note: ${state.previewNotice}.` : ""));
}

async function preview() {
  const ids = requireDatasets("message");
  if (!ids) return;
  const result = await postJson(urls.preview, { dataset_ids: ids, parser: parserSettings() });
  state.aiValues = false;
  state.previewNotice = result.notice || "";
  state.rows = result.rows.map((r) => ({ ...r, included: r.writable !== false }));
  state.rowSort = { key: "name", dir: 1 };
  renderRows($("preview"), state.rows, { selectable: true });
  summarizePreview();
}

// The images to write: every image, unless the user unticked some in the preview.
// The write job gets the reviewed AI values themselves; other jobs only the ticked images.
function chosenImages(url) {
  if (state.aiValues && url === urls.start_job) {
    return { values: Object.fromEntries(state.rows.filter((r) => r.included && r.image_id)
      .map((r) => [r.image_id, r.values])) };
  }
  if (!state.rows.length || state.rows.every((r) => r.included || r.writable === false)) {
    return {};
  }
  return { image_ids: state.rows.filter((r) => r.included).map((r) => r.image_id) };
}

// -- AI (every answer is reviewed before it is used) ---------------------------------------

function aiChoice() {
  const model = $("ai-model").value;
  return { provider: $("ai-provider").value, ...(model ? { model } : {}) };
}

async function loadModels() {
  const provider = $("ai-provider").value;
  const select = $("ai-model");
  select.replaceChildren(option("", "default"));
  if (provider === "local" || !(state.storedKeys || []).includes(provider)) return;
  const { models } = await getJson(`${urls.ai_credentials_models}?provider=${provider}`);
  for (const m of models) select.append(option(m, m));
  if (state.settings.ai_model && models.includes(state.settings.ai_model)) {
    select.value = state.settings.ai_model;
  }
}

function showReview(text, rows) {
  $("ai-review").hidden = false;
  $("ai-review-text").textContent = text;
  if (rows) renderRows($("ai-review-rows"), rows, { selectable: false });
  else $("ai-review-rows").replaceChildren();
  $("ai-accept").focus();
}

async function aiSuggest() {
  const ids = requireDatasets("message");
  if (!ids) return;
  say("Asking for a regular expression…");
  const result = await postJson(urls.ai_regex, { ...aiChoice(), dataset_ids: ids });
  state.aiAnswer = { kind: "regex", regex: result.regex };
  const why = result.reason ? ` (${result.reason})` : "";
  showReview(`Suggested by ${result.source}${why}: ${result.regex}`, null);
  say("Review the suggestion below.");
}

async function aiParse() {
  const ids = requireDatasets("message");
  if (!ids) return;
  say("Asking the AI to split the filenames…");
  const result = await postJson(urls.ai_parse, {
    ...aiChoice(), dataset_ids: ids, variables: variableNames(),
  });
  state.aiAnswer = { kind: "parse", rows: result.rows };
  showReview(`The AI split ${result.rows.length} filename(s) as below.`, result.rows);
  say("Review the AI's values below.");
}

function aiAccept() {
  const answer = state.aiAnswer;
  $("ai-review").hidden = true;
  if (!answer) return;
  if (answer.kind === "regex") {
    $("regex").value = answer.regex;
    document.querySelector("input[name=mode][value=regex]").checked = true;
    rememberParser();
    say("The suggested regular expression is in the Regex box: press Preview to check it.");
  } else {
    // The reviewed values replace the preview; "Write key/value pairs" writes them as shown.
    state.rows = answer.rows.map((r) => ({ ...r, included: r.writable !== false }));
    state.aiValues = true;
    state.previewNotice = "";
    renderRows($("preview"), state.rows, { selectable: true });
    say("The AI's values are in the preview: Write key/value pairs writes them as shown "
      + "(Preview parses again).");
  }
  state.aiAnswer = null;
}

// -- variable sets and settings ------------------------------------------------------------

async function loadVarsets() {
  const { sets } = await getJson(urls.varsets);
  state.sets = sets;
  $("varset-names").replaceChildren(...sets.map((s) => option(s.set_name, s.set_name)));
  renderVarsets();
}

function renderVarsets() {
  const needle = $("varset-search").value.trim().toLowerCase();
  const matches = state.sets.filter((s) => !needle
    || s.set_name.toLowerCase().includes(needle)
    || s.var_names.some((v) => v.toLowerCase().includes(needle)));
  const label = state.sets.length ? "Variable sets…" : "No saved sets";
  $("varsets").replaceChildren(option("", matches.length || !needle ? label : "No set matches"),
    ...matches.map((s) => option(s.set_name, `${s.set_name} (${s.var_names.length})`)));
  if (matches.length === 1 && needle) $("varsets").value = matches[0].set_name;
}

function chosenSet() {
  const name = $("varsets").value;
  if (!name) throw new Error("Choose a variable set first.");
  return name;
}

async function loadUserSettings() {
  const { settings } = await getJson(urls.user_settings);
  applySettings(settings);
}

function applySettings(settings) {
  state.settings = settings || {};
  setVariables(defaultVariables());
  if (Array.isArray(settings.separators)) setSeparators(settings.separators);
  if (settings.ai_provider) $("ai-provider").value = settings.ai_provider;
  $("collab").checked = Boolean(settings.show_all_projects);
  renderProjects();
}

function openSettings() {
  const s = state.settings;
  $("set-batch").value = s.batch_size || "";
  $("set-show-all").checked = Boolean(s.show_all_projects);
  $("set-variables").value = defaultVariables().join("\n");
  $("set-ai-provider").value = s.ai_provider || defaults.providers[0];
  $("set-ai-model").value = s.ai_model || "";
  tell("settings-message", "");
  $("settings").showModal();
}

async function saveSettings() {
  const variables = $("set-variables").value.split("\n").map((v) => v.trim()).filter(Boolean);
  if (variables.length > defaults.maxVariables) {
    throw new Error(`Give at most ${defaults.maxVariables} variable names.`);
  }
  const batch = $("set-batch").value.trim();
  const settings = {
    ...state.settings, variables, show_all_projects: $("set-show-all").checked,
    ai_provider: $("set-ai-provider").value,
  };
  const model = $("set-ai-model").value.trim();
  if (model) settings.ai_model = model; else delete settings.ai_model;
  if (batch) settings.batch_size = Number(batch); else delete settings.batch_size;
  const saved = await postJson(urls.user_settings_save, { settings });
  applySettings(saved.settings);
  tell("settings-message", "Settings saved.");
}

async function restoreSettings() {
  if (!await confirmAction("Restore the default settings? Your saved settings are replaced.",
    "Restore defaults")) return;
  const saved = await postJson(urls.user_settings_save, { settings: {} });
  applySettings(saved.settings);
  openSettings();
  tell("settings-message", "Default settings restored.");
}

// -- jobs ----------------------------------------------------------------------------------

function setJobRunning(running) {
  state.jobRunning = running;
  document.querySelectorAll(".job-action").forEach((b) => { b.disabled = running; });
}

function jobOutcome(job) {
  const summary = job.result && job.result.summary;
  if (job.state === "succeeded") return [summary || "The job is done.", ""];
  if (job.state === "cancelled") {
    return [`The job was cancelled after ${job.done} of ${job.total ?? "?"} images; `
      + "what was written before stays.", "info"];
  }
  return [`The job failed: ${sentence(job.error)}`, "error"];
}

async function follow(progressUrl) {
  localStorage.setItem(JOB_KEY, progressUrl);
  const container = $("job");
  let first;
  try {
    first = await getJson(progressUrl);
  } catch (error) {
    localStorage.removeItem(JOB_KEY); // a job that is gone (swept) is not followed again
    throw error;
  }
  const cancel = $("job-cancel");
  cancel.hidden = first.finished;
  cancel.disabled = false;
  cancel.onclick = guarded(async () => {
    cancel.disabled = true;
    await postJson(first.cancel_url, {});
    tell("job-message", "Cancelling: the job stops after the current step.", "info");
  }, "job-message");
  setJobRunning(!first.finished);
  tell("job-message", "", "info");
  try {
    const job = await watchJob(container, progressUrl, { interval: 500 });
    tell("job-message", ...jobOutcome(job));
  } finally {
    cancel.hidden = true;
    setJobRunning(false);
    localStorage.removeItem(JOB_KEY);
  }
}

async function startJob(url, extra = {}) {
  const ids = requireDatasets("job-message");
  if (!ids) return;
  const batch = state.settings.batch_size ? { batch_size: state.settings.batch_size } : {};
  setJobRunning(true);
  try {
    const job = await postJson(url, { dataset_ids: ids, ...chosenImages(url), ...batch, ...extra });
    await follow(job.progress_url);
  } finally {
    setJobRunning(false);
  }
}

function confirmation() {
  return { confirm: $("confirm").value.trim() };
}

// -- keys and user data ----------------------------------------------------------------------

async function loadKeys() {
  const { stored } = await getJson(urls.ai_credentials);
  state.storedKeys = stored;
  $("keys-stored").textContent = stored.length ? `Keys stored for: ${stored.join(", ")}` : "No keys stored.";
  await loadModels();
}

function toggleKeyVisibility() {
  const input = $("api-key");
  const show = input.type === "password";
  input.type = show ? "text" : "password";
  $("api-key-show").textContent = show ? "Hide" : "Show";
  $("api-key-show").setAttribute("aria-pressed", String(show));
}

function on(id, action, where = "message") {
  $(id).addEventListener("click", guarded(action, where));
}

function wire() {
  $("project").addEventListener("change", guarded(loadDatasets));
  $("project-search").addEventListener("input", renderProjects);
  $("collab").addEventListener("change", renderProjects);
  on("projects-refresh", async () => { await loadProjects(); say("Projects refreshed."); });
  $("datasets-all").addEventListener("change", () => {
    state.datasets.forEach((d) => { d.checked = $("datasets-all").checked; });
    renderDatasets();
  });
  sortable($("datasets"), state.datasetSort, renderDatasets);
  $("variables").addEventListener("click", onVariableButton);
  on("variable-add", () => {
    $("variables").append(variableRow(""));
    labelVariables();
    $("variables").lastElementChild.querySelector("input").focus();
  });
  on("variables-reset", () => {
    setVariables(defaults.variables);
    say("Variable names reset to the REMBI names.");
  });
  on("preview-run", preview);
  // Typing separator characters or a regex chooses that way of splitting.
  $("separator-chars").addEventListener("input", () => {
    document.querySelector("input[name=mode][value=separators]").checked = true;
  });
  $("regex").addEventListener("input", () => {
    document.querySelector("input[name=mode][value=regex]").checked = true;
  });
  $("parser").addEventListener("change", (event) => {
    if (event.target.matches("input[name=mode], .separator, #protect-hyphens")) rememberParser();
  });
  $("separator-chars").addEventListener("input", rememberParser);
  $("regex").addEventListener("input", rememberParser);
  on("ai-suggest", aiSuggest);
  on("ai-parse", aiParse);
  on("ai-accept", aiAccept);
  on("ai-discard", () => { $("ai-review").hidden = true; state.aiAnswer = null; say("AI answer discarded."); });
  $("ai-provider").addEventListener("change", guarded(loadModels));
  $("varset-search").addEventListener("input", renderVarsets);
  on("varset-save", async () => {
    await postJson(urls.varsets_save, { set_name: $("varset-name").value, var_names: variableNames() });
    await loadVarsets();
    say(`Variable set "${$("varset-name").value}" saved.`);
  });
  on("varset-load", async () => {
    const set = await getJson(`${urls.varsets_load}?set_name=${encodeURIComponent(chosenSet())}`);
    setVariables(set.var_names);
    say(`Variable set "${set.set_name}" loaded.`);
  });
  on("varset-delete", async () => {
    const name = chosenSet();
    if (!await confirmAction(`Delete the variable set "${name}"? This cannot be undone.`)) return;
    await postJson(urls.varsets_delete, { set_name: name });
    await loadVarsets();
    say(`Variable set "${name}" deleted.`);
  });
  on("settings-open", openSettings);
  on("settings-save", saveSettings, "settings-message");
  on("settings-restore", restoreSettings, "settings-message");
  on("job-write", () => startJob(urls.start_job, {
    parser: parserSettings(), delete_mode: $("delete-mode").value, ...confirmation(),
  }), "job-message");
  on("job-acq", () => startJob(urls.start_acq_job, {
    delete_mode: $("delete-mode").value, ...confirmation(),
  }), "job-message");
  on("job-delete-plugin", () => startJob(urls.start_delete_plugin_job, confirmation()),
    "job-message");
  on("job-delete-all", () => startJob(urls.start_delete_all_job, confirmation()), "job-message");
  $("api-key-show").addEventListener("click", toggleKeyVisibility);
  on("key-test", async () => {
    const { models } = await postJson(urls.ai_credentials_test,
      { provider: $("key-provider").value, api_key: $("api-key").value });
    tell("account-message", `The key works: ${models.length} model(s) available.`);
  }, "account-message");
  on("key-save", async () => {
    await postJson(urls.ai_credentials_save, { provider: $("key-provider").value, api_key: $("api-key").value });
    $("api-key").value = "";
    await loadKeys();
    tell("account-message", "Key tested and saved.");
  }, "account-message");
  on("key-delete", async () => {
    const provider = $("key-provider").value;
    if (!await confirmAction(`Delete your stored ${provider} API key?`)) return;
    await postJson(urls.ai_credentials_delete, { provider });
    await loadKeys();
    tell("account-message", `Your ${provider} key was deleted.`);
  }, "account-message");
  on("data-delete-keys", async () => {
    if (!await confirmAction("Delete all your stored API keys?")) return;
    await postJson(urls.user_data_delete_api_keys, {});
    await loadKeys();
    tell("account-message", "Your API keys were deleted.");
  }, "account-message");
  on("data-delete-sets", async () => {
    if (!await confirmAction("Delete all your variable sets? This cannot be undone.")) return;
    await postJson(urls.user_data_delete_variable_sets, {});
    await loadVarsets();
    tell("account-message", "Your variable sets were deleted.");
  }, "account-message");
  on("data-delete-all", async () => {
    if (!await confirmAction("Delete all your plugin data: variable sets, settings and API "
      + "keys? Key/value pairs in OMERO are not touched. This cannot be undone.")) return;
    await postJson(urls.user_data_delete_all, {});
    await Promise.all([loadKeys(), loadVarsets(), loadUserSettings()]);
    tell("account-message", "All your plugin data was deleted.");
  }, "account-message");
}

async function main() {
  if (config.isRoot) {
    $("root-refused").hidden = false;
    return;
  }
  $("omp-app").hidden = false;
  buildParserControls();
  wire();
  await guarded(loadUserSettings)(); // first: the other panels start from the settings
  restoreParser(); // this browser's last parser choice goes over the saved defaults
  await guarded(() => Promise.all([loadProjects(), loadVarsets(), loadKeys()]))();
  $("omp-app").dataset.ready = "true";
  const running = localStorage.getItem(JOB_KEY);
  if (running) await guarded(() => follow(running), "job-message")();
}

main();
