// The OpenHCS page: choose a preset and its values, a plate or dataset (picker, or preselected
// by the webclient's "Open with": ?plate=<id> / ?dataset=<id>), start, follow the executions.
import { pageConfig, postJson } from "../omero_plugin_common/job-progress.js";
import { preselection, webclientLink } from "../omero_plugin_common/links.js";
import { cell, header } from "../omero_plugin_common/table.js";

const config = pageConfig();
const form = document.getElementById("run-form");
const startButton = document.getElementById("run-start");
const typeSelect = document.getElementById("source-type");
const sourceSelect = document.getElementById("source-id");
let presets = [];
let pollTimer = null;
let lastRunning = 0;

function say(id, text, kind = "info") {
  const node = document.getElementById(id);
  node.textContent = text;
  node.dataset.kind = kind;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body;
}

function chosenPreset() {
  const radio = form.querySelector("input[name=preset]:checked");
  return radio ? presets.find((p) => p.name === radio.value) : null;
}

function renderPresets(usage) {
  const list = document.getElementById("preset-list");
  list.replaceChildren(...presets.map((preset, n) => {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "preset";
    radio.value = preset.name;
    radio.checked = n === 0;
    radio.addEventListener("change", renderParams);
    const title = document.createElement("span");
    title.className = "preset-title";
    title.textContent = preset.title;
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.dataset.kind = preset.gpu ? "warn" : "ok";
    badge.textContent = preset.gpu ? "GPU" : "CPU";
    const description = document.createElement("span");
    description.className = "preset-description hint";
    description.textContent = preset.description;
    label.append(radio, title, " ", badge, description);
    return label;
  }));
  if (!presets.length) list.textContent = "No pipelines are offered yet; ask your facility.";
  showUsage(usage);
  renderParams();
}

function showUsage(usage) {
  // Short runs would read "0 hours": below an hour, whole minutes (rounded up).
  const used = usage.used_seconds < 3600 ? `${Math.ceil(usage.used_seconds / 60)} min`
    : `${usage.used_hours} h`;
  say("usage", `Your group has used ${used} of its ${usage.quota_hours} h of processing time in the last ${usage.period_days} days.`);
}

function renderParams() {
  const box = document.getElementById("params");
  const preset = chosenPreset();
  if (!preset) { box.replaceChildren(); refresh(); return; }
  const rows = [];
  for (const param of preset.parameters) {
    const id = `param-${param.name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = param.label;
    let input;
    let hint = "";
    if (param.type === "choice") {
      input = document.createElement("select");
      for (const choice of param.choices) input.append(new Option(choice, choice, false, choice === param.default));
    } else {
      input = document.createElement("input");
      if (param.type === "bool") {
        input.type = "checkbox";
        input.checked = Boolean(param.default);
      } else {
        input.type = "number";
        input.step = param.type === "int" ? "1" : "any";
        input.min = String(param.min);
        input.max = String(param.max);
        input.value = String(param.default);
        input.required = true;
        hint = `${param.type === "int" ? "A whole number" : "A number"} from ${param.min} to ${param.max}.`;
      }
    }
    input.id = id;
    input.dataset.param = param.name;
    input.dataset.type = param.type;
    const note = document.createElement("span");
    note.className = "hint";
    note.id = `${id}-hint`;
    note.textContent = hint;
    if (hint) input.setAttribute("aria-describedby", note.id);
    rows.push(label, input, note);
  }
  if (!rows.length) {
    const none = document.createElement("p");
    none.className = "hint";
    none.textContent = "This pipeline has no settings.";
    rows.push(none);
  }
  box.replaceChildren(...rows);
  refresh();
}

function paramValues() {
  const values = {};
  for (const input of document.querySelectorAll("#params [data-param]")) {
    const type = input.dataset.type;
    if (type === "bool") values[input.dataset.param] = input.checked;
    else if (type === "choice") values[input.dataset.param] = input.value;
    else values[input.dataset.param] = input.value.trim() === "" ? null : Number(input.value);
  }
  return values;
}

function refresh() {
  const ready = chosenPreset() && sourceSelect.value;
  startButton.disabled = !ready;
  const option = sourceSelect.selectedOptions[0];
  document.getElementById("start-hint").textContent = ready
    ? `${chosenPreset().title} on ${typeSelect.value} “${option.dataset.name}”.`
    : "Choose a pipeline and a plate or dataset.";
}

function sourceOption(source) {
  const label = `${source.name} (ID ${source.id})${source.can_annotate ? "" : " – you may not annotate it"}`;
  const option = new Option(label, String(source.id));
  option.dataset.name = source.name;
  option.disabled = !source.can_annotate;
  return option;
}

async function loadSources(preselect = null) {
  const type = typeSelect.value;
  sourceSelect.replaceChildren(new Option("Loading…", ""));
  try {
    const { sources } = await getJson(`${config.sourcesUrl}?type=${type}`);
    if (preselect && !sources.some((s) => s.id === preselect)) {
      try {
        const one = await getJson(`${config.sourcesUrl}?type=${type}&id=${preselect}`);
        sources.unshift(...one.sources);
      } catch (error) {
        say("start-message", `${error.message}`, "error");
      }
    }
    const none = new Option(sources.length ? `Choose a ${type}…` : `You have no ${type}s.`, "");
    sourceSelect.replaceChildren(none, ...sources.map(sourceOption));
    if (preselect && sources.some((s) => s.id === preselect && s.can_annotate)) {
      sourceSelect.value = String(preselect);
    } else if (preselect && sources.some((s) => s.id === preselect)) {
      say("start-message", `You may not annotate this ${type}: OpenHCS links its results to it.`, "error");
    }
  } catch (error) {
    sourceSelect.replaceChildren(new Option(`The ${type}s could not be listed.`, ""));
    say("start-message", error.message, "error");
  }
  refresh();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const preset = chosenPreset();
  if (!preset || !sourceSelect.value) return;
  for (const input of document.querySelectorAll("#params input[type=number]")) {
    if (!input.checkValidity()) {
      say("start-message", `“${input.labels[0].textContent}” must be ${input.step === "1" ? "a whole number" : "a number"} from ${input.min} to ${input.max}.`, "error");
      input.focus();
      return;
    }
  }
  startButton.disabled = true;
  try {
    await postJson(config.startUrl, {
      preset: preset.name, params: paramValues(),
      source: { type: typeSelect.value, id: Number(sourceSelect.value) },
    });
    say("start-message", "Started. Follow it in the list below.", "ok");
  } catch (error) {
    say("start-message", error.message, "error");
  }
  refresh();
  await loadJobs();
});

typeSelect.addEventListener("change", () => loadSources());
sourceSelect.addEventListener("change", refresh);

function progressCell(job) {
  const td = cell("", `state-${job.state}`);
  const total = job.wells_total || 0;
  if (!job.finished) {
    const bar = document.createElement("progress");
    bar.max = total || 1;
    if (job.state === "running" && total) bar.value = job.wells_done;
    bar.setAttribute("aria-label", `Progress of ${job.preset_title} on ${job.source.name}`);
    const words = job.state === "running" ? `${job.wells_done} of ${total} wells` : "waiting";
    td.append(bar, ` ${words}`);
    const detail = document.createElement("span");
    detail.className = "detail hint";
    const parts = [];
    if (job.current_well) parts.push(`well ${job.current_well}${job.current_step ? `: ${job.current_step}` : ""}`);
    if (job.eta_seconds) parts.push(`about ${Math.ceil(job.eta_seconds)} s left`);
    if (!parts.length && job.log.length) parts.push(job.log[job.log.length - 1]);
    detail.textContent = parts.join(", ");
    td.append(detail);
    return td;
  }
  td.textContent = job.state === "succeeded" ? `done, ${total} wells`
    : job.state === "failed" ? `failed: ${job.reason || "no reason given"}` : job.state;
  return td;
}

function resultCell(job) {
  if (job.result_dataset) {
    const name = job.result && job.result.dataset_name ? job.result.dataset_name : `Dataset ${job.result_dataset}`;
    return cell(webclientLink("dataset", job.result_dataset, name));
  }
  return cell("–");
}

function actionCell(job) {
  if (job.finished) return cell("");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  cancel.setAttribute("aria-label", `Cancel ${job.preset_title} on ${job.source.name}`);
  cancel.disabled = job.cancel_requested;
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { await postJson(job.cancel_url, {}); } catch (error) { say("jobs-status", error.message, "error"); }
    await loadJobs();
  });
  return cell(cancel);
}

async function loadJobs() {
  const table = document.getElementById("jobs-table");
  header(table, ["Source", "Pipeline", "Started", "Progress", "Result", "_Action"]);
  try {
    const { executions } = await getJson(config.listUrl);
    const focused = table.contains(document.activeElement)
      ? document.activeElement.getAttribute("aria-label") : null;
    const rows = executions.map((job) => {
      const tr = document.createElement("tr");
      tr.dataset.job = job.id;
      tr.dataset.state = job.state;
      tr.append(cell(webclientLink(job.source.type, job.source.id, job.source.name)),
                cell(job.preset_title), cell(new Date(job.created_at).toLocaleString()),
                progressCell(job), resultCell(job), actionCell(job));
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell("No executions yet.");
      td.colSpan = 6;
      tr.append(td);
      rows.push(tr);
    }
    table.tBodies[0].replaceChildren(...rows);
    if (focused) table.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
    const running = executions.filter((j) => !j.finished).length;
    document.getElementById("jobs-status").textContent = running
      ? `${running} execution${running === 1 ? "" : "s"} waiting or running; this list updates itself.`
      : `Updated ${new Date().toLocaleTimeString()}.`;
    clearTimeout(pollTimer);
    if (running) pollTimer = setTimeout(loadJobs, 1500);
    // A run that ended used processing time: show the group's new total.
    if (lastRunning > running) getJson(config.presetsUrl).then((body) => showUsage(body.usage)).catch(() => {});
    lastRunning = running;
  } catch (error) {
    document.getElementById("jobs-status").textContent = `The executions could not be listed (${error.message}).`;
  }
}

document.getElementById("jobs-refresh").addEventListener("click", loadJobs);

async function init() {
  const chosen = preselection();
  let preselect = null;
  if (chosen.plate.length) { typeSelect.value = "plate"; preselect = chosen.plate[0]; }
  else if (chosen.dataset.length) { typeSelect.value = "dataset"; preselect = chosen.dataset[0]; }
  try {
    const body = await getJson(config.presetsUrl);
    presets = body.presets;
    renderPresets(body.usage);
  } catch (error) {
    say("start-message", `The pipelines could not be listed (${error.message}).`, "error");
  }
  await loadSources(preselect);
  await loadJobs();
}

init();
