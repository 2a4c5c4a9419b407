import { downloadText } from "../omero_plugin_common/table.js";
import { getJson, pageConfig, row, setStatus } from "./admin.js";

const config = pageConfig();
const form = document.getElementById("log-form");
const tbody = document.querySelector("#log-table tbody");
const status = document.getElementById("log-status");
const tail = document.getElementById("log-tail");
let cursor = "";
let timer = null;

function checkbox(name, value, label, checked) {
  const wrap = document.createElement("label");
  const input = document.createElement("input");
  Object.assign(input, { type: "checkbox", name, value, checked });
  wrap.append(input, ` ${label}`);
  return wrap;
}

// With Loki the files come from its series API, one request per log type (the files may be
// on other hosts); a log type Loki cannot list says why instead of hiding the others.
async function lokiFiles(services) {
  const parts = await Promise.all(services.map(async (service) => {
    try {
      const body = await getJson(`${config.lokiFilesUrl}?${new URLSearchParams({ service })}`);
      return body.files.map((f) => checkbox("file", f.id, `${f.name} (${service})`, false));
    } catch (error) {
      const note = document.createElement("span");
      note.className = "admin-status";
      note.dataset.state = "error";
      note.textContent = `${service}: ${error.message}`;
      return [note];
    }
  }));
  return parts.flat();
}

async function loadSources() {
  const sources = await getJson(config.sourcesUrl);
  document.getElementById("log-units").replaceChildren(
    ...sources.units.map((u, i) => checkbox("unit", u, u, i < 2)));
  const fromLoki = sources.files_from === "loki";
  document.getElementById("log-files-legend").textContent = fromLoki
    ? "OMERO log files (in Loki, last 7 days)" : "OMERO log files (on this host)";
  const files = fromLoki ? await lokiFiles(sources.file_services)
    : sources.files.map((f) => checkbox("file", f.id, f.name, false));
  document.getElementById("log-files").replaceChildren(
    ...(files.length ? files : [document.createTextNode("none found")]));
}

function params(withCursor) {
  const data = new FormData(form);
  const query = new URLSearchParams();
  for (const key of ["unit", "file"]) for (const v of data.getAll(key)) query.append(key, v);
  for (const key of ["level", "q", "lookback", "limit"]) if (data.get(key)) query.set(key, data.get(key));
  if (withCursor && cursor) query.set("cursor", cursor);
  return query;
}

let shown = [];  // the entries in the table, for the download

function append(entries) {
  tbody.querySelector("tr.empty")?.remove();
  for (const e of entries) {
    tbody.append(row([e.ts.replace("T", " ").replace("+00:00", ""), e.source, e.level, e.message],
                     { level: e.level }));
  }
  shown = shown.concat(entries);
  const limit = Number(new FormData(form).get("limit")) || config.maxEntries;
  while (tbody.rows.length > limit) { tbody.deleteRow(0); shown.shift(); }
  if (!tbody.rows.length) {
    const tr = row(["No log entries match these sources and filters."]);
    tr.className = "empty";
    tr.cells[0].colSpan = 4;
    tbody.append(tr);
  }
}

async function load() {
  setStatus(status, "Loading…", "busy");
  try {
    const body = await getJson(`${config.dataUrl}?${params(false)}`);
    tbody.replaceChildren();
    shown = [];
    append(body.entries);
    cursor = body.cursor;
    setStatus(status, `${body.count} entries from ${body.backend} in ${body.elapsed_ms} ms` +
              (body.truncated ? " (limit reached)" : ""), "ok");
  } catch (error) {
    setStatus(status, error.message, "error");
  }
}

async function poll() {
  try {
    const body = await getJson(`${config.dataUrl}?${params(true)}`);
    append(body.entries);
    cursor = body.cursor;
    setStatus(status, `Live: ${tbody.rows.length} entries, last poll ${new Date().toLocaleTimeString()}`, "ok");
  } catch (error) {
    setStatus(status, error.message, "error");
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
document.getElementById("log-refresh").addEventListener("click", load);
for (const button of form.querySelectorAll(".select-all, .select-none")) {
  button.addEventListener("click", () => {
    for (const box of form.querySelectorAll(`input[name=${button.dataset.name}]`)) {
      box.checked = button.classList.contains("select-all");
    }
  });
}
document.getElementById("log-download").addEventListener("click", () => {
  const lines = shown.map((e) => `${e.ts}\t${e.source}\t${e.level}\t${e.message}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  downloadText(`omero-logs-${stamp}.tsv`, `time\tsource\tlevel\tmessage\n${lines.join("\n")}\n`,
               "text/tab-separated-values;charset=utf-8");
});
tail.addEventListener("change", () => {
  clearInterval(timer);
  if (tail.checked) timer = setInterval(poll, 3000);
});
loadSources().then(load).catch((error) => setStatus(status, error.message, "error"));
