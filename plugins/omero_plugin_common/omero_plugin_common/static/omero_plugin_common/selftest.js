import { pageConfig, postJson, renderJob, watchJob } from "./job-progress.js";

const form = document.getElementById("selftest-form");
const container = document.getElementById("selftest-job");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const button = document.getElementById("selftest-run");
  button.disabled = true;
  try {
    const job = await postJson(pageConfig().startUrl, {
      queue: data.get("queue"), steps: Number(data.get("steps")), delay: 0.2,
    });
    renderJob(container, job);
    await watchJob(container, job.status_url);
  } catch (error) {
    container.hidden = false;
    container.dataset.state = "failed";
    container.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});
