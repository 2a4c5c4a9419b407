import json
import time

import pytest
from django.core.cache import caches
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PREFIX = "/omeroweb_omp_plugin/"
PARSER = {"mode": "separators", "separators": ["_", "-"]}
GET_ROUTES = ["projects/", "datasets/?project_id=1", "varsets/", "varsets/load/?set_name=x",
              "ai-credentials/", "ai-credentials/models/?provider=groq", "user-settings/"]
POST_ROUTES = ["preview/", "ai/regex/", "ai/parse/", "start_job/", "start_acq_job/",
               "start_delete_all_job/", "start_delete_plugin_job/", "delete_all/",
               "delete_plugin/", "varsets/save/", "varsets/delete/", "ai-credentials/test/",
               "ai-credentials/save/", "ai-credentials/delete/", "user-settings/save/",
               "user-data/delete-api-keys/", "user-data/delete-variable-sets/",
               "user-data/delete-all/"]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    caches["default"].clear()


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def as_user(lab, login_as):
    def login(name):
        return login_as(lab.omero.connect(name))

    return login


def post(client, route, body):
    return client.post(PREFIX + route, data=json.dumps(body), content_type="application/json")


def test_root_is_refused_everywhere_but_the_page(client, lab, as_user):
    as_user("root")
    assert client.get(PREFIX).status_code == 200
    assert client.get(PREFIX + "root-status/").json() == {"is_root_user": True}
    for route in GET_ROUTES:
        assert client.get(PREFIX + route).status_code == 403, route
    for route in POST_ROUTES:
        response = post(client, route, {})
        assert response.status_code == 403, route
        assert "root" in response.json()["error"]["message"]


def test_root_status_for_a_user(client, lab, as_user):
    as_user("alice")
    assert client.get(PREFIX + "root-status/").json() == {"is_root_user": False}


def test_projects_owned_and_collaborative(client, lab, as_user):
    as_user("alice")
    payload = client.get(PREFIX + "projects/").json()
    assert [p["name"] for p in payload["owned"]] == ["P1"]
    assert payload["collab_available"] is False
    as_user("bob")
    payload = client.get(PREFIX + "projects/").json()
    assert payload["owned"] == [] and [p["name"] for p in payload["collab_ra"]] == ["P1"]
    assert payload["collab_rw"] == [] and payload["collab_available"] is True
    # carol's read-only project is not offered to bob: he cannot annotate it.
    assert "Pro" not in json.dumps(payload)


def test_datasets_of_a_visible_project_only(client, lab, as_user):
    as_user("bob")
    response = client.get(PREFIX + f"datasets/?project_id={lab.project.id}")
    assert response.json() == {"datasets": [{"id": lab.dataset.id, "name": "D1",
                                             "image_count": 3}]}
    as_user("alice")
    assert client.get(PREFIX + f"datasets/?project_id={lab.ro_project.id}").status_code == 404
    assert client.get(PREFIX + "datasets/?project_id=abc").status_code == 400


def test_preview_parses_and_flags_writable_images(client, lab, as_user):
    as_user("bob")
    response = post(client, "preview/", {"dataset_ids": [lab.dataset.id], "parser": PARSER})
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert [r["values"] for r in rows][2] == ["P2", "T-cell", "plastic", "pos3"]
    assert rows[0]["keys"][0] == "Project number" and all(r["writable"] for r in rows)
    assert {r["dataset_id"] for r in rows} == {lab.dataset.id}
    assert [r["image_id"] for r in rows] == [i.id for i in lab.images]
    response = post(client, "preview/", {"dataset_ids": [lab.ro_dataset.id], "parser": PARSER})
    assert response.json()["writable"] == 0


@pytest.mark.parametrize("ids, message", [
    ([], "Choose at least one dataset."),
    (None, "Choose at least one dataset."),
    (list(range(1, 102)), "Choose at most 100 datasets at a time."),
])
def test_no_dataset_chosen_reads_as_a_sentence(client, lab, as_user, ids, message):
    as_user("alice")
    for route in ("preview/", "start_job/", "start_delete_all_job/"):
        response = post(client, route, {"dataset_ids": ids, "parser": PARSER,
                                        "confirm": "DELETE"})
        assert response.status_code == 400
        assert response.json()["error"]["message"] == message, route


def test_write_job_only_on_the_images_left_ticked(client, lab, as_user, celery_eager,
                                                   job_service):
    from .conftest import map_values

    as_user("alice")
    chosen = [lab.images[0].id, lab.images[2].id]
    response = post(client, "start_job/", {"dataset_ids": [lab.dataset.id], "parser": PARSER,
                                           "image_ids": chosen, "batch_size": 1})
    assert response.status_code == 202, response.content
    progress = client.get(response.json()["progress_url"]).json()
    assert progress["result"]["written"] == 2 and progress["total"] == 2
    assert map_values(lab.omero, lab.images[1]) == []
    refused = post(client, "start_job/", {"dataset_ids": [lab.dataset.id], "parser": PARSER,
                                          "image_ids": []})
    assert refused.json()["error"]["message"] == "Tick at least one image in the preview."


def test_preview_refuses_a_catastrophic_regex_with_400(client, lab, as_user):
    owner = lab.alice
    lab.omero.add_image("a" * 900 + "b.tif", owner=owner, group=lab.lab, dataset=lab.dataset)
    as_user("alice")
    response = post(client, "preview/", {"dataset_ids": [lab.dataset.id],
                                         "parser": {"mode": "regex", "regex": "(a|aa)+$"}})
    assert response.status_code == 400
    assert "CPU time" in response.json()["error"]["message"]


def test_preview_says_when_the_datasets_hold_more_images_than_it_shows(client, lab, as_user,
                                                                     monkeypatch):
    from omeroweb_omp_plugin.config import omp_settings

    for n in range(8):
        lab.omero.add_image(f"P3_x_pos{n}.tif", owner=lab.alice, group=lab.lab,
                            dataset=lab.dataset)
    monkeypatch.setenv("OMP_PREVIEW_MAX_IMAGES", "10")
    omp_settings.cache_clear()
    try:
        as_user("alice")
        body = {"dataset_ids": [lab.dataset.id], "parser": PARSER}
        payload = post(client, "preview/", body).json()
        assert payload["count"] == 10 and "first 10 images" in payload["notice"]
        monkeypatch.setenv("OMP_PREVIEW_MAX_IMAGES", "11")
        omp_settings.cache_clear()
        payload = post(client, "preview/", body).json()
        assert payload["count"] == 11 and "notice" not in payload
    finally:
        omp_settings.cache_clear()


def test_post_without_csrf_token_is_refused(lab, as_user):
    strict = Client(enforce_csrf_checks=True)
    as_user("alice")
    body = json.dumps({"set_name": "s", "var_names": ["a"]})
    response = strict.post(PREFIX + "varsets/save/", body, content_type="application/json")
    assert response.status_code == 403
    token = "k" * 32
    strict.cookies["csrftoken"] = token
    response = strict.post(PREFIX + "varsets/save/", body, content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert response.status_code == 201


def test_rate_limit_six_actions_then_a_block(client, lab, as_user):
    as_user("alice")
    body = {"dataset_ids": [lab.dataset.id], "parser": PARSER}
    assert all(post(client, "preview/", body).status_code == 200 for _ in range(6))
    refused = post(client, "preview/", body)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    # The block covers every major action, not only previews.
    assert post(client, "ai/regex/", {"provider": "local", "filenames": ["a_b"]}
                ).status_code == 429
    # Another user is not affected.
    as_user("bob")
    assert post(client, "preview/", body).status_code == 200


def test_start_job_and_poll_progress(client, lab, as_user, celery_eager, job_service):
    as_user("alice")
    response = post(client, "start_job/", {"dataset_ids": [lab.dataset.id], "parser": PARSER})
    assert response.status_code == 202
    job = response.json()
    progress = client.get(job["progress_url"]).json()
    assert progress["state"] == "succeeded" and progress["result"]["written"] == 3
    assert progress["cancel_url"].endswith("/cancel/")
    as_user("bob")  # another user's job is invisible
    assert client.get(job["progress_url"]).status_code == 404


def test_deletes_need_the_typed_confirmation(client, lab, as_user, celery_eager, job_service):
    as_user("alice")
    for route in ("start_delete_all_job/", "start_delete_plugin_job/", "delete_all/"):
        refused = post(client, route, {"dataset_ids": [lab.dataset.id], "confirm": "yes"})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "confirmation_required"
    refused = post(client, "start_job/", {"dataset_ids": [lab.dataset.id], "parser": PARSER,
                                          "delete_mode": "all"})
    assert refused.status_code == 400
    accepted = post(client, "start_delete_plugin_job/",
                    {"dataset_ids": [lab.dataset.id], "confirm": "DELETE"})
    assert accepted.status_code == 202


def test_jobs_on_invisible_datasets_are_404(client, lab, as_user):
    as_user("alice")
    response = post(client, "start_job/", {"dataset_ids": [lab.ro_dataset.id],
                                           "parser": PARSER})
    assert response.status_code == 404


def test_variable_sets_crud_and_limits(client, lab, as_user):
    as_user("alice")
    assert post(client, "varsets/save/", {"set_name": "A", "var_names": ["x", "y"]}
                ).status_code == 201
    assert post(client, "varsets/save/", {"set_name": "A", "var_names": ["z"]}
                ).status_code == 409
    loaded = client.get(PREFIX + "varsets/load/?set_name=A").json()
    assert loaded == {"set_name": "A", "var_names": ["x", "y"]}
    for n in range(9):
        assert post(client, "varsets/save/", {"set_name": f"S{n}", "var_names": []}
                    ).status_code == 201
    assert post(client, "varsets/save/", {"set_name": "S10", "var_names": []}
                ).status_code == 409
    assert len(client.get(PREFIX + "varsets/").json()["sets"]) == 10
    assert post(client, "varsets/delete/", {"set_name": "A"}).status_code == 200
    assert client.get(PREFIX + "varsets/load/?set_name=A").status_code == 404
    as_user("bob")  # per user
    assert client.get(PREFIX + "varsets/").json()["sets"] == []


def test_user_settings_and_user_data_deletion(client, lab, as_user):
    as_user("alice")
    saved = post(client, "user-settings/save/",
                 {"settings": {"separators": ["_"], "ai_provider": "local"}})
    assert saved.status_code == 200
    assert client.get(PREFIX + "user-settings/").json()["settings"]["ai_provider"] == "local"
    assert post(client, "user-settings/save/", {"settings": {"evil": 1}}).status_code == 400
    post(client, "varsets/save/", {"set_name": "A", "var_names": ["x"]})
    deleted = post(client, "user-data/delete-all/", {}).json()["deleted"]
    assert deleted["omp_variable_sets"] == 1 and deleted["omp_user_settings"] == 1
    assert client.get(PREFIX + "user-settings/").json()["settings"] == {}
    assert post(client, "user-data/delete-variable-sets/", {}).json() == {"deleted": 0}


def test_get_only_and_post_only(client, lab, as_user):
    as_user("alice")
    assert client.post(PREFIX + "projects/").status_code == 405
    assert client.get(PREFIX + "start_job/").status_code == 405


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)
FIELDS = st.fixed_dictionaries({}, optional={
    "dataset_ids": JSON | st.lists(st.integers(-5, 2**64), max_size=3),
    "parser": JSON | st.fixed_dictionaries({}, optional={
        "mode": st.sampled_from(["separators", "regex", "x"]) | JSON,
        "separators": st.lists(st.sampled_from(["_", "-", "/", "__"]), max_size=3) | JSON,
        "regex": st.sampled_from(["(", "[_]", "(a|aa)+$", ""]) | JSON,
        "variables": JSON}),
    "provider": st.sampled_from(["local", "groq", "nope"]) | JSON,
    "filenames": JSON, "variables": JSON, "set_name": JSON, "var_names": JSON,
    "settings": JSON, "api_key": JSON, "confirm": st.sampled_from(["DELETE"]) | JSON,
    "delete_mode": st.sampled_from(["keep", "all", "plugin"]) | JSON,
})
BODIES = FIELDS | JSON.map(lambda v: v) | st.binary(max_size=30)


@settings(max_examples=150, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(POST_ROUTES), body=BODIES)
def test_malformed_json_never_gives_a_500(lab, login_as, job_service, celery_eager, route,
                                          body):
    caches["default"].clear()
    client = Client()
    login_as(lab.omero.connect("alice"))
    data = body if isinstance(body, bytes) else json.dumps(body)
    response = client.post(PREFIX + route, data=data, content_type="application/json")
    assert response.status_code < 500, (route, body, response.content[:300])
    if response.status_code >= 400:
        assert "error" in response.json()


@settings(max_examples=60, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(["datasets/", "varsets/load/", "ai-credentials/models/"]),
       key=st.sampled_from(["project_id", "set_name", "provider"]),
       value=st.text(max_size=30))
def test_malformed_query_strings_never_give_a_500(lab, login_as, route, key, value):
    client = Client()
    login_as(lab.omero.connect("alice"))
    response = client.get(PREFIX + route, {key: value})
    assert response.status_code < 500, (route, key, value, response.content[:300])


def test_progress_of_a_malformed_or_unknown_job_is_a_json_404(client, lab, as_user):
    as_user("alice")
    for job_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = client.get(PREFIX + f"progress/{job_id}/")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("route", ["ai-credentials/test/", "ai-credentials/save/",
                                   "ai-credentials/delete/"])
def test_a_provider_that_is_not_text_is_a_400(client, lab, as_user, route):
    # Found by the property test above: a list once reached a dict lookup (TypeError, 500).
    as_user("alice")
    assert post(client, route, {"provider": [], "api_key": "k"}).status_code == 400


def test_nul_and_control_characters_are_a_400(client, lab, as_user):
    # Found by the property test: PostgreSQL text and jsonb cannot hold NUL (it was a 500).
    as_user("alice")
    assert client.get(PREFIX + "varsets/load/", {"set_name": "\x00"}).status_code == 400
    assert post(client, "varsets/save/", {"set_name": "a\x00", "var_names": []}
                ).status_code == 400
    assert post(client, "varsets/save/", {"set_name": "a", "var_names": ["\x00"]}
                ).status_code == 400
    assert post(client, "user-settings/save/", {"settings": {"mode": "\x00"}}
                ).status_code == 400
    assert post(client, "ai-credentials/test/", {"provider": "groq", "api_key": "a\r\nX: y"}
                ).status_code == 400


def test_start_acquisition_job_view(client, lab, as_user, celery_eager, job_service):
    as_user("alice")
    response = post(client, "start_acq_job/", {"dataset_ids": [lab.dataset.id]})
    assert response.status_code == 202
    progress = client.get(response.json()["progress_url"]).json()
    assert progress["kind"] == "omp_acquisition" and progress["result"]["written"] == 3


def test_reviewed_ai_values_are_written_as_shown(client, lab, as_user, celery_eager,
                                                  job_service):
    from .conftest import map_values

    as_user("alice")
    rows = post(client, "ai/parse/", {"provider": "local", "dataset_ids": [lab.dataset.id],
                                      "variables": ["Project"]}).json()["rows"]
    assert [r["image_id"] for r in rows] == [i.id for i in lab.images]
    # The user reviewed the AI's answer and corrected one value before writing.
    values = {str(r["image_id"]): r["values"] for r in rows[:2]}
    values[str(lab.images[0].id)][1] = "HeLa-S3"
    response = post(client, "start_job/", {"dataset_ids": [lab.dataset.id],
                                           "parser": {**PARSER, "variables": ["Project"]},
                                           "values": values})
    assert response.status_code == 202, response.content
    assert client.get(response.json()["progress_url"]).json()["result"]["written"] == 2
    [(_, pairs)] = map_values(lab.omero, lab.images[0])
    assert pairs[:2] == [("Project", "P1"), ("Var2", "HeLa-S3")]
    assert map_values(lab.omero, lab.images[2]) == []  # not among the reviewed rows
    for bad in ({"x": ["a"]}, {"1": "a"}, {"1": ["a"] * 11}):  # 6 actions: the rate limit
        refused = post(client, "start_job/", {"dataset_ids": [lab.dataset.id],
                                              "parser": PARSER, "values": bad})
        assert refused.status_code == 400, bad
    refused = post(client, "start_acq_job/", {"dataset_ids": [lab.dataset.id],
                                              "values": values})
    assert refused.status_code == 400


def test_superscript_digits_are_a_400_not_a_500(client, lab, as_user):
    """'¹'.isdigit() is true but int('¹') fails (found by the query-string property test)."""
    as_user("alice")
    assert client.get(PREFIX + "datasets/", {"project_id": "¹"}).status_code == 400
    assert client.get(PREFIX, {"dataset": "²"}).status_code == 200  # the page, no preselection
    response = post(client, "start_job/", {"dataset_ids": [lab.dataset.id], "parser": PARSER,
                                           "values": {"¹": ["a"]}})
    assert response.status_code == 400


@pytest.mark.parametrize("separators, sentence", [
    ([], "Choose at least one separator character, or use a regular expression."),
    ("+", "Separators must be a list of characters."),
    (["+" * 10_000], "A separator can be at most 8 characters long."),
    ([str(n) for n in range(100_000)], "At most 64 separators can be used at once "
                                       "(100,000 were given)."),
    (["\t"], "A separator cannot contain an invisible or control character (U+0009): "
             "filenames are cleaned of them before they are split; use a visible character "
             "such as _ or -."),
    (["\x00"], "A separator cannot contain an invisible or control character (U+0000)"),
    (["\u202e"], "A separator cannot contain an invisible or control character (U+202E)"),
    ([{"+": 1}], "Each separator must be one or more characters."),
])
def test_hostile_separators_are_a_400_sentence(client, lab, as_user, separators, sentence):
    as_user("alice")
    for route, body in (("preview/", {"dataset_ids": [lab.dataset.id]}),
                        ("start_job/", {"dataset_ids": [lab.dataset.id]})):
        started = time.process_time()
        response = post(client, route, {**body, "parser": {"separators": separators}})
        assert response.status_code == 400, route
        message = response.json()["error"]["message"]
        assert message.startswith(sentence), message
        assert time.process_time() - started < 2  # refused before any parsing
    saved = post(client, "user-settings/save/", {"settings": {"separators": separators}})
    assert saved.status_code == 400


def test_free_separator_characters_preview_and_write(client, lab, as_user, celery_eager,
                                                     job_service):
    """Typed characters, regex metacharacters and non-ASCII ones included, split in the
    preview and in the write job alike; the most separators of the longest kind are fine."""
    from .conftest import map_values

    image = lab.omero.add_image("P5+HeLa;T-cell]glass·pos2.tif", owner=lab.alice,
                                group=lab.lab, dataset=lab.dataset)
    as_user("alice")
    parser = {"mode": "separators", "separators": ["_", "+", ";", "]", "·"]}
    rows = post(client, "preview/", {"dataset_ids": [lab.dataset.id], "parser": parser}
                ).json()["rows"]
    assert [r["values"] for r in rows if r["image_id"] == image.id] == [
        ["P5", "HeLa", "T-cell", "glass", "pos2"]]
    response = post(client, "start_job/", {"dataset_ids": [lab.dataset.id], "parser": parser,
                                           "image_ids": [image.id]})
    assert response.status_code == 202, response.content
    [(_, pairs)] = map_values(lab.omero, image)
    assert [v for k, v in pairs if k != "omp_hash"] == ["P5", "HeLa", "T-cell", "glass", "pos2"]
    most = [chr(0x4E00 + n) * 8 for n in range(64)]
    response = post(client, "preview/", {"dataset_ids": [lab.dataset.id],
                                         "parser": {"separators": most}})
    assert response.status_code == 200
    saved = post(client, "user-settings/save/", {"settings": {"separators": ["_", "+"]}})
    assert saved.status_code == 200
    assert client.get(PREFIX + "user-settings/").json()["settings"]["separators"] == ["_", "+"]
