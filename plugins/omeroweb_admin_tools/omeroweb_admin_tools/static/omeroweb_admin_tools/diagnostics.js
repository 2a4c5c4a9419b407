import { pageConfig, postJson, row, setStatus } from "./admin.js";

const config = pageConfig();
const form = document.getElementById("diag-form");
const summary = document.getElementById("diag-summary");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  setStatus(summary, "Running…", "busy");
  try {
    const body = await postJson(config.runUrl, { check: new FormData(form).get("check") });
    setStatus(summary, `${body.check}: ${body.summary}`, body.summary);
    document.querySelector("#diag-table tbody").replaceChildren(...body.results.map((r) =>
      row([r.check, r.status, r.reason, r.ms], { status: r.status })));
  } catch (error) {
    setStatus(summary, error.message, "fail");
  }
});
