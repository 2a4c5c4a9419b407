// Shared job UI: start a job, poll its progress endpoint, render a progress bar.
// Plain ES module, no bundler; every plugin imports it from static/omero_plugin_common/.

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export function pageConfig() {
  const node = document.getElementById("page-config");
  return node ? JSON.parse(node.textContent) : {};
}

async function readJson(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error ? body.error.message : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

export async function postJson(url, payload) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
    body: JSON.stringify(payload),
  });
  return readJson(response);
}

export function renderJob(container, job) {
  container.hidden = false;
  container.dataset.state = job.state;
  container.replaceChildren();
  const bar = document.createElement("progress");
  bar.className = "job-progress";
  bar.max = job.total || 1;
  bar.value = job.total ? job.done : 0;
  const label = document.createElement("p");
  label.className = "job-summary";
  const state = document.createElement("strong");
  state.className = "job-state";
  state.textContent = job.state;
  const counts = job.total ? ` ${job.done} / ${job.total} (${job.percent}%)` : "";
  const eta = job.eta_seconds != null ? `, about ${Math.ceil(job.eta_seconds)} s left` : "";
  label.append(state, document.createTextNode(counts + eta));
  const log = document.createElement("div");
  log.className = "job-log";
  log.tabIndex = 0; // it scrolls: reachable by keyboard
  log.setAttribute("role", "log");
  log.setAttribute("aria-label", "Job log");
  log.textContent = job.log.join("\n");
  container.append(bar, label, log);
  if (job.error) {
    const error = document.createElement("p");
    error.className = "job-error";
    error.textContent = job.error;
    container.append(error);
  }
}

export async function watchJob(container, statusUrl, { interval = 400 } = {}) {
  for (;;) {
    const job = await readJson(await fetch(statusUrl, { credentials: "same-origin" }));
    renderJob(container, job);
    if (job.finished) return job;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
