// The OMP page: pick datasets, configure the parser, preview, start jobs and follow them.
// Every request goes to the plugin's JSON routes; jobs are followed with the shared
// job-progress module, and the running job's URL is kept in localStorage across reloads.
import { pageConfig, postJson, watchJob } from "../omero_plugin_common/job-progress.js";

const config = pageConfig();
const urls = config.urls || {};
const $ = (id) => document.getElementById(id);
const JOB_KEY = `omp-job:${config.user}`;

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body;
}

function say(text, isError = false) {
  const node = $("message");
  node.textContent = text;
  node.classList.toggle("error", isError);
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    say(error.message, true);
  }
}

function option(value, text) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = text;
  return node;
}

// -- targets -------------------------------------------------------------------------

async function loadProjects() {
  const payload = await getJson(urls.projects);
  const select = $("project");
  select.replaceChildren(option("", "Choose a project"));
  for (const [kind, label] of [["owned", "My projects"], ["collab_rw", "Read-write groups"],
    ["collab_ra", "Read-annotate groups"]]) {
    if (!payload[kind].length) continue;
    const group = document.createElement("optgroup");
    group.label = label;
    for (const p of payload[kind]) group.append(option(p.id, `${p.name} (${p.owner})`));
    select.append(group);
  }
}

async function loadDatasets() {
  const box = $("datasets");
  box.querySelectorAll("label, p").forEach((n) => n.remove());
  if (!$("project").value) return;
  const { datasets } = await getJson(`${urls.datasets}?project_id=${$("project").value}`);
  for (const d of datasets) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = d.id;
    input.checked = true;
    label.append(input, document.createTextNode(` ${d.name}`));
    box.append(label);
  }
}

function datasetIds() {
  return [...$("datasets").querySelectorAll("input:checked")].map((i) => Number(i.value));
}

// -- parser ----------------------------------------------------------------------------

function buildParserControls() {
  for (const sep of config.defaults.separators) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.className = "separator";
    input.value = sep;
    input.checked = sep === "_";
    label.append(input, document.createTextNode(` ${sep === " " ? "space" : sep}`));
    $("separators").append(label);
  }
  for (let i = 0; i < config.defaults.maxVariables; i += 1) {
    const input = document.createElement("input");
    input.type = "text";
    input.maxLength = 128;
    input.className = "variable";
    input.placeholder = `Var${i + 1}`;
    $("variables").append(input);
  }
  setVariables(config.defaults.variables);
  for (const p of config.defaults.providers) {
    $("ai-provider").append(option(p, p));
    if (p !== "local") $("key-provider").append(option(p, p));
  }
  $("confirm-word").textContent = config.deleteConfirmation;
}

function setVariables(names) {
  document.querySelectorAll(".variable").forEach((input, i) => { input.value = names[i] || ""; });
}

function parserSettings() {
  const names = [...document.querySelectorAll(".variable")].map((i) => i.value.trim());
  while (names.length && !names[names.length - 1]) names.pop();
  return {
    mode: document.querySelector("input[name=mode]:checked").value,
    separators: [...document.querySelectorAll(".separator:checked")].map((i) => i.value),
    regex: $("regex").value,
    protect_hyphens: $("protect-hyphens").checked,
    variables: names,
  };
}

function renderRows(rows) {
  const table = document.createElement("table");
  const width = Math.max(1, ...rows.map((r) => r.values.length));
  const head = table.createTHead().insertRow();
  for (const text of ["Filename", ...(rows[0] ? rows[0].keys : [])]) {
    const th = document.createElement("th");
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (row.writable === false) tr.className = "readonly";
    tr.insertCell().textContent = row.name;
    if (row.error) {  // a name too long to parse: the reason spans the value columns
      const cell = tr.insertCell();
      cell.colSpan = width;
      cell.textContent = row.error;
      continue;
    }
    for (let i = 0; i < width; i += 1) tr.insertCell().textContent = row.values[i] || "";
  }
  $("preview").replaceChildren(table);
}

async function preview() {
  const result = await postJson(urls.preview, { dataset_ids: datasetIds(), parser: parserSettings() });
  renderRows(result.rows);
  say(`${result.count} image(s), ${result.writable} you may annotate.`
    + (result.notice ? ` Note: ${result.notice}.` : ""));
}

async function aiSuggest() {
  const result = await postJson(urls.ai_regex, { provider: $("ai-provider").value, dataset_ids: datasetIds() });
  $("regex").value = result.regex;
  document.querySelector("input[name=mode][value=regex]").checked = true;
  say(`Suggested by ${result.source}${result.reason ? ` (${result.reason})` : ""}.`);
}

async function aiParse() {
  const result = await postJson(urls.ai_parse, {
    provider: $("ai-provider").value, dataset_ids: datasetIds(), variables: parserSettings().variables,
  });
  renderRows(result.rows);
  say("AI preview (not written).");
}

// -- variable sets and settings ------------------------------------------------------------

async function loadVarsets() {
  const { sets } = await getJson(urls.varsets);
  $("varsets").replaceChildren(option("", "Variable sets…"), ...sets.map((s) => option(s.set_name, s.set_name)));
}

async function loadUserSettings() {
  const { settings } = await getJson(urls.user_settings);
  if (settings.variables) setVariables(settings.variables);
  if (settings.separators) {
    document.querySelectorAll(".separator").forEach((i) => { i.checked = settings.separators.includes(i.value); });
  }
  if (settings.ai_provider) $("ai-provider").value = settings.ai_provider;
}

// -- jobs ----------------------------------------------------------------------------------

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
  cancel.onclick = () => guarded(async () => { await postJson(first.cancel_url, {}); });
  try {
    const job = await watchJob(container, progressUrl, { interval: 500 });
    say(`Job ${job.state}.`, job.state !== "succeeded");
  } finally {
    cancel.hidden = true;
    localStorage.removeItem(JOB_KEY);
  }
}

async function startJob(url, extra = {}) {
  const job = await postJson(url, { dataset_ids: datasetIds(), ...extra });
  await follow(job.progress_url);
}

function confirmation() {
  return { confirm: $("confirm").value.trim() };
}

// -- keys and user data ----------------------------------------------------------------------

async function loadKeys() {
  const { stored } = await getJson(urls.ai_credentials);
  $("keys-stored").textContent = stored.length ? `Keys stored for: ${stored.join(", ")}` : "No keys stored.";
}

function on(id, action) {
  $(id).addEventListener("click", () => guarded(action));
}

async function main() {
  if (config.isRoot) {
    $("root-refused").hidden = false;
    return;
  }
  $("omp-app").hidden = false;
  buildParserControls();
  $("project").addEventListener("change", () => guarded(loadDatasets));
  on("preview-run", preview);
  on("ai-suggest", aiSuggest);
  on("ai-parse", aiParse);
  on("varset-save", async () => {
    await postJson(urls.varsets_save, { set_name: $("varset-name").value, var_names: parserSettings().variables });
    await loadVarsets();
    say("Variable set saved.");
  });
  on("varset-load", async () => {
    const set = await getJson(`${urls.varsets_load}?set_name=${encodeURIComponent($("varsets").value)}`);
    setVariables(set.var_names);
  });
  on("varset-delete", async () => {
    await postJson(urls.varsets_delete, { set_name: $("varsets").value });
    await loadVarsets();
  });
  on("settings-save", async () => {
    const p = parserSettings();
    await postJson(urls.user_settings_save, { settings: {
      mode: p.mode, separators: p.separators, protect_hyphens: p.protect_hyphens,
      variables: p.variables, ai_provider: $("ai-provider").value,
    } });
    say("Saved as your defaults.");
  });
  on("job-write", () => startJob(urls.start_job, {
    parser: parserSettings(), delete_mode: $("delete-mode").value, ...confirmation(),
  }));
  on("job-acq", () => startJob(urls.start_acq_job, { delete_mode: $("delete-mode").value, ...confirmation() }));
  on("job-delete-plugin", () => startJob(urls.start_delete_plugin_job, confirmation()));
  on("job-delete-all", () => startJob(urls.start_delete_all_job, confirmation()));
  on("key-save", async () => {
    await postJson(urls.ai_credentials_save, { provider: $("key-provider").value, api_key: $("api-key").value });
    $("api-key").value = "";
    await loadKeys();
  });
  on("key-delete", async () => {
    await postJson(urls.ai_credentials_delete, { provider: $("key-provider").value });
    await loadKeys();
  });
  on("data-delete-keys", async () => { await postJson(urls.user_data_delete_api_keys, {}); await loadKeys(); });
  on("data-delete-sets", async () => { await postJson(urls.user_data_delete_variable_sets, {}); await loadVarsets(); });
  on("data-delete-all", async () => {
    await postJson(urls.user_data_delete_all, {});
    await Promise.all([loadKeys(), loadVarsets()]);
    say("All your plugin data was deleted.");
  });
  await guarded(() => Promise.all([loadProjects(), loadVarsets(), loadKeys(), loadUserSettings()]));
  const running = localStorage.getItem(JOB_KEY);
  if (running) await guarded(() => follow(running));
}

main();
