import { bytes, csrfToken, getJson, pageConfig, postJson, row, setStatus } from "./admin.js";

const config = pageConfig();
const message = document.getElementById("quota-message");
let groups = [];

// A horizontal bar chart on a canvas: no chart library needed for two bar lists.
function barChart(canvas, items) {
  const ctx = canvas.getContext("2d");
  const top = items.slice(0, 10);
  const max = Math.max(1, ...top.map((i) => i.bytes));
  const barHeight = Math.min(24, (canvas.height - 10) / Math.max(1, top.length));
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px sans-serif";
  top.forEach((item, i) => {
    const y = 5 + i * barHeight;
    const width = (canvas.width - 260) * (item.bytes / max);
    ctx.fillStyle = "#3b6fb6";
    ctx.fillRect(140, y, Math.max(1, width), barHeight - 6);
    ctx.fillStyle = "#222";
    ctx.fillText(item.name.slice(0, 18), 4, y + barHeight - 10);
    ctx.fillText(bytes(item.bytes), 146 + width, y + barHeight - 10);
  });
  canvas.dataset.bars = String(top.length);
}

function renderQuotas(payload) {
  const quotas = payload.state.quotas;
  document.querySelector("#quota-table tbody").replaceChildren(...groups.map((g) => {
    const input = document.createElement("input");
    Object.assign(input, { type: "number", step: "0.01", min: String(config.minQuotaGb),
                           name: g.name, value: quotas[g.name] ? quotas[g.name].quota_gb : "" });
    input.placeholder = "no quota";
    return row([g.name, g.permissions, bytes(g.bytes), input], { group: g.name });
  }));
  setStatus(document.getElementById("quota-enforcer"), `Enforcer: ${payload.enforcer_message}`,
            payload.enforcer && payload.enforcer.enforced ? "ok" : "warn");
  document.getElementById("quota-auto").textContent = payload.auto_default_quota_gb === null
    ? "New groups get no quota automatically."
    : `New groups get ${payload.auto_default_quota_gb} GB automatically (omero-quota-defaults timer).`;
  document.getElementById("quota-log").replaceChildren(...payload.state.log.slice().reverse()
    .map((e) => { const li = document.createElement("li");
      li.textContent = `${e.at} ${e.by}: ${e.group} ${e.from ?? "none"} → ${e.to ?? "none"} GB`;
      return li; }));
}

async function load() {
  try {
    const data = await getJson(config.dataUrl);
    groups = data.groups;
    const disk = document.getElementById("disk");
    disk.textContent = data.disk.error ||
      `${data.disk.path}: ${bytes(data.disk.used_bytes)} used of ${bytes(data.disk.total_bytes)}, ${bytes(data.disk.free_bytes)} free`;
    barChart(document.getElementById("chart-groups"), data.groups);
    barChart(document.getElementById("chart-users"), data.users);
    renderQuotas(await getJson(config.quotaUrl));
  } catch (error) {
    setStatus(message, error.message, "error");
  }
}

document.getElementById("quota-save").addEventListener("click", async () => {
  const updates = [...document.querySelectorAll("#quota-table input")].map((input) => ({
    group: input.name, quota_gb: input.value === "" ? null : Number(input.value) }));
  try {
    renderQuotas(await postJson(config.updateUrl, { updates }));
    setStatus(message, "Quotas saved.", "ok");
  } catch (error) {
    setStatus(message, error.message, "error");
  }
});

document.getElementById("quota-import").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch(config.importUrl, {
    method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() },
    body: new FormData(event.target) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    setStatus(message, body.error ? body.error.message : `HTTP ${response.status}`, "error");
    return;
  }
  renderQuotas(body);
  setStatus(message, "CSV imported.", "ok");
});

load();
