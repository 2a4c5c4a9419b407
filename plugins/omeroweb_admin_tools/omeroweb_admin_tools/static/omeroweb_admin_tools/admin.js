// Shared helpers of the admin pages: JSON fetches with the plugins' error shape, table rows,
// human-readable sizes and durations.
export { csrfToken, pageConfig, postJson } from "../omero_plugin_common/job-progress.js";

export async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  }
  return body;
}

export function row(cells, attrs = {}) {
  const tr = document.createElement("tr");
  for (const [key, value] of Object.entries(attrs)) tr.dataset[key] = value;
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "–";
    tr.append(td);
  }
  return tr;
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(seconds % 60)}s`;
}

export function setStatus(node, text, state = "") {
  node.textContent = text;
  node.dataset.state = state;
}

// The refresh bar (templates/omeroweb_admin_tools/refresh.html): "Refresh" now, and an
// automatic refresh every `seconds` that the administrator switches on or off (remembered
// per page in this browser).
export function refresher(load, seconds) {
  const button = document.getElementById("refresh-now");
  const auto = document.getElementById("refresh-auto");
  const stamp = document.getElementById("refresh-time");
  const key = `omeroweb_admin_tools.autorefresh.${window.location.pathname}`;
  let timer = null;
  async function run() {
    button.disabled = true;
    try {
      await load();
      stamp.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } finally {
      button.disabled = false;
    }
  }
  function schedule() {
    clearInterval(timer);
    timer = auto.checked ? setInterval(run, seconds * 1000) : null;
    window.localStorage.setItem(key, auto.checked ? "on" : "off");
  }
  auto.checked = window.localStorage.getItem(key) !== "off";
  button.addEventListener("click", run);
  auto.addEventListener("change", schedule);
  schedule();
  return run();
}
