import { barChart } from "../omero_plugin_common/chart.js";
import { dataTable } from "../omero_plugin_common/table.js";
import { bytes, csrfToken, getJson, pageConfig, postJson, refresher, row } from "./admin.js";

const config = pageConfig();
const message = document.getElementById("quota-message");
const filter = document.getElementById("storage-filter");
let usage = { groups: [], users: [] };
let quotaEdited = false;  // a refresh must not wipe quotas typed but not yet saved

function say(text, kind) {
  message.textContent = text;
  message.dataset.kind = kind;
}

function adminLink(template, id, text) {
  const a = document.createElement("a");
  a.href = template.replace(/0\/$/, `${Number(id)}/`);
  a.textContent = text;
  a.title = `Edit ${text} in OMERO.web's administration`;
  return a;
}

const groupsTable = dataTable(document.getElementById("groups-table"), {
  columns: [
    { key: "name", label: "Group", render: (g) => adminLink(config.groupUrl, g.id, g.name) },
    { key: "id", label: "ID", numeric: true },
    { key: "permissions", label: "Permissions" },
    { key: "bytes", label: "Size", numeric: true, format: bytes, csvLabel: "Bytes" },
    { key: "quota_gb", label: "Quota (GB)", numeric: true },
  ],
  empty: "No groups.", filter, filterKeys: ["name"], sort: { key: "bytes", dir: "descending" },
});
const usersTable = dataTable(document.getElementById("users-table"), {
  columns: [
    { key: "name", label: "User", render: (u) => adminLink(config.userUrl, u.id, u.name) },
    { key: "id", label: "ID", numeric: true },
    { key: "bytes", label: "Size", numeric: true, format: bytes, csvLabel: "Bytes" },
  ],
  empty: "No users.", filter, filterKeys: ["name"], sort: { key: "bytes", dir: "descending" },
});

function charts() {
  const chart = (id, items, noun) => barChart(document.getElementById(id), items, {
    name: (i) => i.name, value: (i) => i.bytes, format: bytes, noun,
    empty: items.length ? `No stored data for these ${noun}.` : `No ${noun} match.` });
  chart("chart-groups", groupsTable.visibleRows(), "groups");
  chart("chart-users", usersTable.visibleRows(), "users");
}

function disk(d) {
  const node = document.getElementById("disk");
  if (d.error) {
    node.textContent = d.error;
    return;
  }
  const percent = d.total_bytes ? Math.round((100 * d.used_bytes) / d.total_bytes) : 0;
  const text = document.createElement("p");
  text.textContent = `${d.path}: ${bytes(d.used_bytes)} used of ${bytes(d.total_bytes)} `
    + `(${percent} %), ${bytes(d.free_bytes)} free.`;
  const meter = document.createElement("div");
  meter.className = "usage-meter";
  meter.setAttribute("role", "img");
  meter.setAttribute("aria-label", `${percent} % of the data directory used`);
  meter.dataset.level = percent >= 95 ? "full" : percent >= 85 ? "warn" : "ok";
  const fill = document.createElement("span");
  fill.style.width = `${percent}%`;
  meter.append(fill);
  node.replaceChildren(text, meter);
}

function renderQuotas(payload) {
  const quotas = payload.state.quotas;
  const body = document.querySelector("#quota-table tbody");
  const groups = usage.groups.slice().sort((a, b) => a.name.localeCompare(b.name));
  body.replaceChildren(...groups.map((g) => {
    let cell;
    if (g.quota_allowed) {
      cell = document.createElement("input");
      Object.assign(cell, { type: "number", step: "0.01", min: String(config.minQuotaGb),
                            name: g.name, value: quotas[g.name] ? quotas[g.name].quota_gb : "" });
      cell.placeholder = "no quota";
      cell.setAttribute("aria-label", `Quota in GB for group ${g.name}`);
    } else {
      cell = document.createElement("span");
      cell.className = "hint";
      cell.textContent = "OMERO's own group: no quota";
    }
    return row([g.name, g.permissions, bytes(g.bytes), cell], { group: g.name });
  }));
  if (!groups.length) body.replaceChildren(row(["No groups."], {}));
  const enforced = payload.enforcer && payload.enforcer.enforced;
  const enforcer = document.getElementById("quota-enforcer");
  enforcer.textContent = `Enforcer: ${payload.enforcer_message}`;
  enforcer.dataset.state = enforced ? "ok" : "warn";
  document.getElementById("quota-auto").textContent = payload.auto_default_quota_gb === null
    ? "New groups get no quota automatically."
    : `New groups get ${payload.auto_default_quota_gb} GB automatically (omero-quota-defaults timer).`;
  const log = payload.state.log.slice().reverse().map((e) => {
    const li = document.createElement("li");
    li.textContent = `${e.at} ${e.by}: ${e.group} ${e.from ?? "none"} → ${e.to ?? "none"} GB`;
    return li;
  });
  if (!log.length) {
    const li = document.createElement("li");
    li.textContent = "No changes yet.";
    log.push(li);
  }
  document.getElementById("quota-log").replaceChildren(...log);
  for (const g of usage.groups) g.quota_gb = quotas[g.name] ? quotas[g.name].quota_gb : null;
  groupsTable.setRows(usage.groups);
}

async function load() {
  try {
    const data = await getJson(config.dataUrl);
    usage = data;
    disk(data.disk);
    usersTable.setRows(data.users);
    groupsTable.setRows(data.groups);
    const quotas = await getJson(config.quotaUrl);
    if (!quotaEdited) renderQuotas(quotas);
    charts();
  } catch (error) {
    say(`The storage figures could not be read: ${error.message}`, "error");
  }
}

filter.addEventListener("input", charts);
document.getElementById("quota-table").addEventListener("input", () => { quotaEdited = true; });
document.getElementById("groups-csv").addEventListener("click", () => groupsTable.csv("storage-by-group.csv"));
document.getElementById("users-csv").addEventListener("click", () => usersTable.csv("storage-by-user.csv"));

document.getElementById("quota-save").addEventListener("click", async () => {
  const updates = [...document.querySelectorAll("#quota-table input")].map((input) => ({
    group: input.name, quota_gb: input.value === "" ? null : Number(input.value) }));
  try {
    const saved = await postJson(config.updateUrl, { updates });
    quotaEdited = false;
    renderQuotas(saved);
    say("Quotas saved.", "ok");
  } catch (error) {
    say(error.message, "error");
  }
});

document.getElementById("quota-import").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch(config.importUrl, {
    method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
    body: new FormData(event.target) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    say(body.error ? body.error.message : `The import failed (HTTP ${response.status}).`, "error");
    return;
  }
  quotaEdited = false;
  renderQuotas(body);
  say("CSV imported.", "ok");
});

refresher(load, 60);
