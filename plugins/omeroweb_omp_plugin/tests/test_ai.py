"""AI assistance against a local fake provider server (never the internet)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import caches
from django.test import Client

from omero_plugin_common import db
from omeroweb_omp_plugin.services import ai

GOOD_KEY = "sk-good-0123456789"
NAMES = ["P1_HeLa_glass_pos1.tif", "P2_HeLa_plastic_pos2.tif", "P3_MCF7_glass_pos3.tif"]


class FakeProviders(ThreadingHTTPServer):
    """Answers every provider's API shape; `answers` are popped per completion request."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[str] = []
        self.requests: list[dict] = []
        self.delay = 0.0

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _authorised(self):
        auth = self.headers.get("Authorization", "")
        return GOOD_KEY in (auth.removeprefix("Bearer "), self.headers.get("x-api-key"),
                            self.headers.get("x-goog-api-key"))

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body=None):
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": dict(self.headers), "body": body})
        time.sleep(self.server.delay)

    def do_GET(self):
        self._record()
        if not self._authorised():
            return self._reply(401, {"error": "bad key"})
        if self.path == "/models":
            return self._reply(200, {"data": [{"id": "zeta"}, {"id": "llama-3.1-8b-instant"}]})
        if self.path == "/v1/models" and self.headers.get("x-api-key"):
            return self._reply(200, {"data": [{"id": "claude-3-5-sonnet-20240620"}]})
        if self.path == "/v1/models":
            return self._reply(200, {"models": [{"name": "command-r"}, {"name": "bad name!"}]})
        if self.path == "/v1beta/models":
            return self._reply(200, {"models": [{"name": "models/gemini-1.5-flash"}]})
        return self._reply(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        if not self._authorised():
            return self._reply(401, {"error": "bad key"})
        text = self.server.answers.pop(0) if self.server.answers else "no"
        if self.path == "/chat/completions":
            return self._reply(200, {"choices": [{"message": {"content": text}}]})
        if self.path == "/v1/messages":
            return self._reply(200, {"content": [{"type": "text", "text": text}]})
        if self.path.startswith("/v1beta/models/") and self.path.endswith(":generateContent"):
            return self._reply(200, {"candidates": [{"content": {"parts": [{"text": text}]}}]})
        if self.path == "/v2/chat":
            return self._reply(200, {"message": {"content": [{"type": "text", "text": text}]}})
        return self._reply(404, {})


@pytest.fixture
def providers(monkeypatch):
    server = FakeProviders()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # The test-only way to move the fixed endpoints: no request can reach this mapping.
    for name in ai.ENDPOINTS:
        monkeypatch.setitem(ai.ENDPOINTS, name, server.base)
    yield server
    server.shutdown()
    server.server_close()


def test_every_promised_provider_is_offered():
    assert set(ai.PROVIDERS) == {"local", "groq", "gemini", "claude", "perplexity", "xai",
                                 "cohere", "openai", "mistral"}
    assert all(url.startswith("https://") for url in ai.ENDPOINTS.values())


@pytest.mark.parametrize("name", list(ai.ENDPOINTS))
def test_each_provider_completes_and_lists_models(providers, name):
    providers.answers = ["```regex\n[_]+\n```"]
    result = ai.suggest_regex(name, GOOD_KEY, None, NAMES, timeout=5)
    assert result == {"regex": "[_]+", "source": name}
    models = ai.test_key(name, GOOD_KEY)
    assert models and all(ai.MODEL_NAME.match(m) for m in models)
    request = providers.requests[0]
    assert GOOD_KEY not in request["path"]  # keys travel in headers only
    assert request["body"].get("temperature", 0) == 0 or name == "gemini"


def test_default_model_is_listed_first(providers):
    assert ai.test_key("groq", GOOD_KEY) == ["llama-3.1-8b-instant", "zeta"]


def test_strict_retry_then_success(providers):
    providers.answers = [".*", "Regex: `[_]`"]
    result = ai.suggest_regex("groq", GOOD_KEY, None, NAMES, timeout=5)
    assert result == {"regex": "[_]", "source": "groq"}
    prompts = [r["body"]["messages"][0]["content"] for r in providers.requests]
    assert len(prompts) == 2 and "ONLY the regex" in prompts[1]


def test_heuristic_fallback_after_two_bad_answers(providers):
    providers.answers = ["(a|aa)+$", "sorry, I cannot"]
    result = ai.suggest_regex("claude", GOOD_KEY, None, NAMES, timeout=5)
    assert result["source"] == "fallback" and result["regex"] == ai.heuristic_regex(NAMES)


def test_timeout_falls_back_quickly(providers):
    providers.delay = 3.0
    started = time.monotonic()
    result = ai.suggest_regex("groq", GOOD_KEY, None, NAMES, timeout=0.3)
    assert result["source"] == "fallback" and "unreachable" in result["reason"]
    assert time.monotonic() - started < 2.9  # two requests without a timeout: 6 s


def test_bad_key_is_an_error_without_the_key_in_it(providers):
    with pytest.raises(ai.ProviderError) as exc:
        ai.test_key("mistral", "sk-wrong-key")
    assert "401" in str(exc.value) and "sk-wrong" not in str(exc.value)


def test_parse_rows_and_row_count_mismatch(providers):
    providers.answers = ["P1,HeLa,glass,pos1\nP2,HeLa,plastic,pos2\nP3,MCF7,glass,pos3",
                         "only,one,row"]
    rows = ai.parse_rows("gemini", GOOD_KEY, None, NAMES, ["Project"], timeout=5)
    assert rows[1] == ["P2", "HeLa", "plastic", "pos2"]
    with pytest.raises(ai.ProviderError, match="1 rows for 3"):
        ai.parse_rows("gemini", GOOD_KEY, None, NAMES, ["Project"], timeout=5)


def test_local_provider_needs_no_key_and_no_network():
    assert ai.suggest_regex("local", None, None, NAMES, timeout=1)["source"] == "local"
    assert ai.parse_rows("local", None, None, NAMES, [], timeout=1)[0][:2] == ["P1", "HeLa"]


def test_model_names_cannot_inject_paths():
    with pytest.raises(ai.ProviderError):
        ai.check_model("gemini", "../../evil?x=")


@pytest.fixture
def client(lab, login_as):
    caches["default"].clear()
    login_as(lab.omero.connect("alice"))
    return Client()


def _post(client, route, body):
    return client.post("/omeroweb_omp_plugin/" + route, json.dumps(body),
                       content_type="application/json")


def test_keys_are_stored_encrypted_and_never_returned(client, providers):
    assert _post(client, "ai-credentials/save/", {"provider": "groq", "api_key": "sk-bad"}
                 ).status_code == 502
    saved = _post(client, "ai-credentials/save/", {"provider": "groq", "api_key": GOOD_KEY})
    assert saved.status_code == 201 and GOOD_KEY not in saved.content.decode()
    listing = client.get("/omeroweb_omp_plugin/ai-credentials/")
    assert listing.json()["stored"] == ["groq"] and GOOD_KEY not in listing.content.decode()
    with db.transaction() as tx:
        row = tx.fetchone("SELECT token FROM plugin_user_secrets WHERE username = 'alice'")
    assert GOOD_KEY.encode() not in bytes(row["token"])
    models = client.get("/omeroweb_omp_plugin/ai-credentials/models/?provider=groq").json()
    assert models["models"][0] == "llama-3.1-8b-instant"
    providers.answers = ["[_]+"]
    suggested = _post(client, "ai/regex/", {"provider": "groq", "filenames": NAMES}).json()
    assert suggested == {"regex": "[_]+", "source": "groq"}
    assert _post(client, "ai-credentials/delete/", {"provider": "groq"}).json() == {"deleted": 1}
    assert client.get("/omeroweb_omp_plugin/ai-credentials/").json()["stored"] == []


@pytest.mark.parametrize("route", ["ai/regex/", "ai/parse/"])
def test_requests_the_provider_cannot_serve_are_4xx_and_never_sent(client, providers, route):
    """No stored key and a bad model name are the request's faults (502 is for the provider)."""
    no_key = _post(client, route, {"provider": "groq", "filenames": NAMES})
    assert (no_key.status_code, no_key.json()["error"]["code"]) == (404, "no_api_key")
    _post(client, "ai-credentials/save/", {"provider": "groq", "api_key": GOOD_KEY})
    sent = len(providers.requests)
    bad_model = _post(client, route, {"provider": "groq", "filenames": NAMES, "model": "a b"})
    assert bad_model.status_code == 400 and "model" in bad_model.json()["error"]["message"]
    assert len(providers.requests) == sent


def test_user_data_deletion_removes_api_keys(client, providers):
    _post(client, "ai-credentials/save/", {"provider": "cohere", "api_key": GOOD_KEY})
    assert _post(client, "user-data/delete-api-keys/", {}).json() == {"deleted": 1}


def test_no_url_can_be_supplied(client, providers):
    response = _post(client, "ai-credentials/test/",
                     {"provider": "http://169.254.169.254/", "api_key": GOOD_KEY})
    assert response.status_code == 400
    assert providers.requests == []


def test_ai_parse_view_with_the_local_provider(client, lab):
    response = _post(client, "ai/parse/", {"provider": "local",
                                           "dataset_ids": [lab.dataset.id],
                                           "variables": ["Project"]})
    assert response.status_code == 200
    assert response.json()["rows"][0]["keys"][0] == "Project"


def test_key_test_view_stores_nothing(client, providers):
    tested = _post(client, "ai-credentials/test/", {"provider": "xai", "api_key": GOOD_KEY})
    assert tested.status_code == 200 and tested.json()["ok"] is True
    assert client.get("/omeroweb_omp_plugin/ai-credentials/").json()["stored"] == []
