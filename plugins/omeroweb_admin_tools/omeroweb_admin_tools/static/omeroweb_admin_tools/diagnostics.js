import { dataTable } from "../omero_plugin_common/table.js";
import { pageConfig, postJson, setStatus } from "./admin.js";

const config = pageConfig();
const summary = document.getElementById("diag-summary");
const buttons = () => [...document.querySelectorAll("#diag-all, .diag-run")];

function badge(status) {
  const span = document.createElement("span");
  span.className = "badge";
  span.dataset.kind = status;
  span.textContent = status;
  return span;
}

const results = dataTable(document.getElementById("diag-table"), {
  columns: [
    { key: "group", label: "Check" },
    { key: "check", label: "Item" },
    { key: "status", label: "Result", render: (r) => badge(r.status) },
    { key: "reason", label: "Reason" },
    { key: "ms", label: "ms", numeric: true },
  ],
  empty: "No results yet: run a check.", sort: { key: "group", dir: "ascending" },
  rowAttrs: (r) => ({ status: r.status }),
});

async function run(check) {
  buttons().forEach((b) => { b.disabled = true; });
  setStatus(summary, check === "platform_end_to_end" ? "Running all checks…" : `Running ${check}…`, "busy");
  try {
    const body = await postJson(config.runUrl, { check });
    const { pass, warn, fail } = body.counts;
    setStatus(summary, `${body.check}: ${body.summary}`, body.summary);
    const counts = document.getElementById("diag-counts");
    counts.replaceChildren(badge("pass"), ` ${pass} passed `, badge("warn"), ` ${warn} warnings `,
                           badge("fail"), ` ${fail} failed`);
    document.getElementById("diag-request").textContent =
      `Request id ${body.request_id} (the OMERO.web log has the same id).`;
    results.setRows(body.results);
    for (const tr of document.querySelectorAll("#checks-table tbody tr")) {
      const mine = body.results.filter((r) => r.group === tr.dataset.check);
      if (!mine.length) continue;
      const worst = mine.some((r) => r.status === "fail") ? "fail"
        : mine.some((r) => r.status === "warn") ? "warn" : "pass";
      tr.querySelector(".check-result").replaceChildren(badge(worst),
        ` at ${new Date().toLocaleTimeString()}`);
    }
  } catch (error) {
    setStatus(summary, `The check could not run: ${error.message}`, "fail");
  } finally {
    buttons().forEach((b) => { b.disabled = false; });
  }
}

document.getElementById("diag-all").addEventListener("click", () => run("platform_end_to_end"));
for (const button of document.querySelectorAll(".diag-run")) {
  button.addEventListener("click", () => run(button.dataset.check));
}
