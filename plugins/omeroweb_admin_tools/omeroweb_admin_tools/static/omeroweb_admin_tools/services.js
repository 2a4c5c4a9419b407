import { bytes, duration, getJson, pageConfig, refresher, row, setStatus } from "./admin.js";

const config = pageConfig();
const HOST = [
  ["cpu_percent", "CPU", (v) => `${v.toFixed(1)} %`],
  ["memory_percent", "Memory", (v) => `${v.toFixed(1)} %`],
  ["disk_root_percent", "Root disk", (v) => `${v.toFixed(1)} %`],
  ["network_receive_bytes_per_second", "Network in", (v) => `${bytes(v)}/s`],
  ["network_transmit_bytes_per_second", "Network out", (v) => `${bytes(v)}/s`],
];

// The rows, or one "none" row that says why the table is empty.
function fill(tbody, rows, none) {
  if (rows.length) { tbody.replaceChildren(...rows); return; }
  const tr = row([none]);
  tr.className = "empty";
  tr.cells[0].colSpan = tbody.closest("table").tHead.rows[0].cells.length;
  tbody.replaceChildren(tr);
}

function card(label, value) {
  const div = document.createElement("div");
  div.className = "admin-card";
  const b = document.createElement("b");
  b.textContent = value;
  div.append(label, document.createElement("br"), b);
  return div;
}

async function load() {
  const unitsStatus = document.getElementById("units-status");
  const targetsStatus = document.getElementById("targets-status");
  try {
    const body = await getJson(config.dataUrl);
    setStatus(unitsStatus, body.units_error || `${body.units.length} units`,
              body.units_error ? "error" : "ok");
    fill(document.querySelector("#units-table tbody"), body.units.map((u) => row([
      u.unit, `${u.active} (${u.sub})`, duration(u.uptime_seconds), u.restarts,
      bytes(u.memory_bytes), u.cpu_seconds === null ? "–" : `${u.cpu_seconds.toFixed(1)} s`,
    ], { status: u.status })), body.units_error ? "None: systemd could not be read." : "None.");
    const prom = body.prometheus;
    const host = document.getElementById("host-metrics");
    if (prom.error) {
      setStatus(targetsStatus, prom.error, "error");
      host.replaceChildren(card("Prometheus", "unavailable"));
      fill(document.querySelector("#targets-table tbody"), [], "None: Prometheus is unavailable.");
      return;
    }
    host.replaceChildren(...HOST.map(([key, label, fmt]) =>
      card(label, prom.host[key] === null ? "–" : fmt(prom.host[key]))));
    setStatus(targetsStatus, `${prom.targets.length} targets`, "ok");
    fill(document.querySelector("#targets-table tbody"), prom.targets.map((t) =>
      row([t.job, t.instance, t.health, t.last_error || ""], { status: t.health === "up" ? "ok" : "fail" })),
      "None: Prometheus scrapes no targets.");
  } catch (error) {
    setStatus(unitsStatus, error.message, "error");
  }
}

refresher(load, 15);
