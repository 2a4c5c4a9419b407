"""Property: whatever is logged, a job keeps exactly the newest N lines, in order."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omero_plugin_common import db, jobs
from omero_plugin_common.config import common_settings
from omero_plugin_common.jobs import JobContext

LIMIT = 10
LINES = st.lists(st.text(max_size=30).filter(lambda t: "\x00" not in t), max_size=12)


@pytest.fixture(scope="module")
def small_log_job(plugin_services):
    os.environ["OMERO_PLUGINS_JOB_LOG_LINES"] = str(LIMIT)
    common_settings.cache_clear()
    job = jobs.submit("selftest", "prop", {"steps": 1}, queue="omp")  # no omp worker runs
    claimed = jobs.claim(str(job.id), "prop-task", "omp@prop")
    try:
        yield claimed
    finally:
        del os.environ["OMERO_PLUGINS_JOB_LOG_LINES"]
        common_settings.cache_clear()
        jobs.mark_cancelled(str(job.id), "prop-task")


@settings(max_examples=25,
          suppress_health_check=[HealthCheck.too_slow])
@given(first=LINES, second=LINES)
def test_log_keeps_the_newest_lines_in_order(small_log_job, first, second):
    with db.transaction() as tx:
        tx.execute("UPDATE plugin_jobs SET log = '[]' WHERE id = %s", (str(small_log_job.id),))
    ctx = JobContext(small_log_job)
    for line in first:
        ctx.log(line)
    for n, line in enumerate(second):
        ctx.progress(n, len(second), line)
    assert jobs.get(small_log_job.id).log == (first + second)[-LIMIT:]
