"""AI assistance: one provider interface, fixed endpoints, timeouts, a strict retry and the
local heuristic as fallback.

Endpoints are constants: a request can choose a provider by name, never a URL (no SSRF).
`ENDPOINTS` is a module-level mapping only so tests can point it at a local fake server; no
request path writes it.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from omero_plugin_common import secret_store

from . import parsing, safe_regex

PLUGIN = "omeroweb_omp_plugin"
ENDPOINTS = {
    "groq": "https://api.groq.com/openai/v1",
    "xai": "https://api.x.ai/v1",
    "perplexity": "https://api.perplexity.ai",
    "openai": "https://api.openai.com/v1",
    "mistral": "https://api.mistral.ai/v1",
    "claude": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "cohere": "https://api.cohere.com",
}
DEFAULT_MODELS = {
    "groq": "llama-3.1-8b-instant",
    "xai": "grok-2-latest",
    "perplexity": "sonar",
    "openai": "gpt-4o-mini",
    "mistral": "mistral-small-latest",
    "claude": "claude-3-5-sonnet-20240620",
    "gemini": "gemini-1.5-flash",
    "cohere": "command-r",
}
PROVIDERS = ("local", *ENDPOINTS)
MAX_FILENAMES = 200
MAX_KEY_LENGTH = 400
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
REGEX_TOKENS, PARSE_TOKENS = 120, 800
MODELS_TIMEOUT = 8.0


class ProviderError(RuntimeError):
    """The provider failed or answered nonsense; the message never contains the key."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a fixed endpoint never needs one
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _http(method: str, url: str, headers: dict[str, str], body: dict | None,
          timeout: float) -> dict:
    if not url.startswith(("https://", "http://127.0.0.1:")):  # the latter: the tests' fake
        raise ProviderError("provider endpoint is not https")
    data = json.dumps(body).encode("utf-8") if body is not None else None
    # The URL is one of the fixed ENDPOINTS (checked above), never user input.
    request = urllib.request.Request(  # noqa: S310
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return json.loads(response.read(2_000_000).decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise ProviderError(f"provider answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderError(f"provider unreachable: {type(reason).__name__}") from None
    except (ValueError, UnicodeDecodeError):
        raise ProviderError("provider answered something that is not JSON") from None


@dataclass(frozen=True)
class Provider:
    """One remote provider; `style` picks the request shape."""

    name: str
    style: str  # openai | claude | gemini | cohere

    @property
    def base(self) -> str:
        return ENDPOINTS[self.name]

    def complete(self, api_key: str, model: str, prompt: str, max_tokens: int,
                 timeout: float) -> str:
        try:
            if self.style == "openai":
                answer = _http("POST", f"{self.base}/chat/completions",
                               {"Authorization": f"Bearer {api_key}"},
                               {"model": model, "temperature": 0, "max_tokens": max_tokens,
                                "messages": [{"role": "user", "content": prompt}]}, timeout)
                return str(answer["choices"][0]["message"]["content"])
            if self.style == "claude":
                answer = _http("POST", f"{self.base}/v1/messages",
                               {"x-api-key": api_key, "anthropic-version": "2023-06-01"},
                               {"model": model, "temperature": 0, "max_tokens": max_tokens,
                                "messages": [{"role": "user", "content": prompt}]}, timeout)
                return "".join(p.get("text", "") for p in answer["content"])
            if self.style == "gemini":
                # The key travels in a header, never in the URL (which proxies log).
                answer = _http("POST", f"{self.base}/v1beta/models/{quote(model, safe='')}"
                               ":generateContent", {"x-goog-api-key": api_key},
                               {"contents": [{"parts": [{"text": prompt}]}],
                                "generationConfig": {"temperature": 0,
                                                     "maxOutputTokens": max_tokens}}, timeout)
                return "".join(p.get("text", "")
                               for p in answer["candidates"][0]["content"]["parts"])
            answer = _http("POST", f"{self.base}/v2/chat",
                           {"Authorization": f"Bearer {api_key}"},
                           {"model": model, "temperature": 0, "max_tokens": max_tokens,
                            "messages": [{"role": "user", "content": prompt}]}, timeout)
            return "".join(p.get("text", "") for p in answer["message"]["content"])
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError("provider answered in an unexpected shape") from None

    def list_models(self, api_key: str, timeout: float = MODELS_TIMEOUT) -> list[str]:
        try:
            if self.style in ("openai", "claude"):
                headers = ({"Authorization": f"Bearer {api_key}"} if self.style == "openai"
                           else {"x-api-key": api_key, "anthropic-version": "2023-06-01"})
                path = "/models" if self.style == "openai" else "/v1/models"
                answer = _http("GET", self.base + path, headers, None, timeout)
                names = [m["id"] for m in answer["data"]]
            elif self.style == "gemini":
                answer = _http("GET", f"{self.base}/v1beta/models",
                               {"x-goog-api-key": api_key}, None, timeout)
                names = [m["name"].removeprefix("models/") for m in answer["models"]]
            else:
                answer = _http("GET", f"{self.base}/v1/models",
                               {"Authorization": f"Bearer {api_key}"}, None, timeout)
                names = [m["name"] for m in answer["models"]]
        except (KeyError, TypeError):
            raise ProviderError("provider answered in an unexpected shape") from None
        names = sorted({str(n) for n in names if MODEL_NAME.match(str(n))})
        # The default model first, when the account offers it.
        default = DEFAULT_MODELS[self.name]
        return [default, *(n for n in names if n != default)] if default in names else names


_STYLES = {"groq": "openai", "xai": "openai", "perplexity": "openai", "openai": "openai",
           "mistral": "openai", "claude": "claude", "gemini": "gemini", "cohere": "cohere"}


def provider(name: str) -> Provider:
    if not isinstance(name, str) or name not in _STYLES:
        raise ProviderError(f"unknown provider; choose one of {', '.join(PROVIDERS)}")
    return Provider(name, _STYLES[name])


def check_model(name: str, model: str | None) -> str:
    model = model or DEFAULT_MODELS.get(name, "")
    if not MODEL_NAME.match(model):
        raise ProviderError("invalid model name")
    return model


# -- credentials (encrypted per user; never sent back to the browser) --------------------


def _secret_name(name: str) -> str:
    return f"ai:{name}"


def store_key(username: str, name: str, api_key: str) -> None:
    secret_store.put(PLUGIN, username, _secret_name(name), api_key)


def load_key(username: str, name: str) -> str | None:
    return secret_store.get(PLUGIN, username, _secret_name(name))


def providers_with_keys(username: str) -> list[str]:
    return [n.removeprefix("ai:") for n in secret_store.names(PLUGIN, username)
            if n.startswith("ai:")]


def delete_keys(username: str, name: str | None = None) -> int:
    if name is None:
        return sum(secret_store.delete(PLUGIN, username, _secret_name(p)) for p in ENDPOINTS)
    return secret_store.delete(PLUGIN, username, _secret_name(name))


# -- regex suggestion -------------------------------------------------------------------

_FENCE = re.compile(r"^```[a-z]*\s*|\s*```$", re.I)
_PREFIX = re.compile(r"^(?:regex|pattern|answer)\s*[:=]\s*", re.I)
_OVER_GENERIC = {".", ".*", ".+", "\\W", "\\W+", "\\s", "\\s+", "(.*)", "(.+)", "\\w", "\\w+"}


def clean_regex_answer(text: str) -> str:
    text = _FENCE.sub("", text.strip()).strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "`'\"/":
        line = line[1:-1]
    return line


def is_reasonable(pattern: str, names: Sequence[str]) -> bool:
    """Passes the regex checks, is not over-generic, and splits most names into at least
    two values (checked like a preview: one CPU-time limit for all names)."""
    if pattern in _OVER_GENERIC:
        return False
    try:
        safe_regex.analyse(pattern)
        parsed = parsing.parse_names(list(names[:MAX_FILENAMES]),
                                     parsing.ParserSettings(mode="regex", regex=pattern))
    except (safe_regex.RegexError, parsing.ParseError):
        return False
    good = sum(1 for row in parsed if row is not None and len(row[1]) >= 2)
    return bool(parsed) and good * 2 >= len(parsed)


def heuristic_regex(names: Sequence[str]) -> str:
    return parsing.separators_regex(parsing.suggest_separators(names))


def _regex_prompt(names: Sequence[str], strict: bool) -> str:
    rule = ("Answer with ONLY the regex on one line, no explanation, no code fence."
            if strict else "Answer with the regex only.")
    return ("Give a Python regular expression that, used with re.split, splits these image "
            "filenames (without extension) into their metadata values. " + rule +
            "\nFilenames:\n" + "\n".join(names))


def suggest_regex(name: str, api_key: str | None, model: str | None,
                  names: Sequence[str], timeout: float) -> dict:
    names = [str(n) for n in names[:MAX_FILENAMES]]
    if name == "local":
        return {"regex": heuristic_regex(names), "source": "local"}
    remote, model = provider(name), check_model(name, model)
    if not api_key:
        raise ProviderError(f"no API key stored for {name}")
    errors = []
    for strict in (False, True):  # one strict retry
        try:
            answer = clean_regex_answer(remote.complete(
                api_key, model, _regex_prompt(names, strict), REGEX_TOKENS, timeout))
        except ProviderError as exc:
            errors.append(str(exc))
            continue
        if is_reasonable(answer, names):
            return {"regex": answer, "source": name}
        errors.append("the suggested regex did not fit the filenames")
    return {"regex": heuristic_regex(names), "source": "fallback", "reason": errors[-1]}


def parse_rows(name: str, api_key: str | None, model: str | None, names: Sequence[str],
               variables: Sequence[str], timeout: float) -> list[list[str]]:
    """One comma-separated row of values per filename; a count mismatch is an error."""
    names = [str(n) for n in names[:MAX_FILENAMES]]
    if name == "local":
        settings = parsing.ParserSettings(mode="regex", regex=heuristic_regex(names))
        return [row["values"] for row in parsing.preview(names, settings)]
    remote, model = provider(name), check_model(name, model)
    if not api_key:
        raise ProviderError(f"no API key stored for {name}")
    prompt = ("For each filename below, output one line with its metadata values separated by "
              f"commas (variables: {', '.join(variables) or 'any'}). Output exactly "
              f"{len(names)} lines and nothing else.\n" + "\n".join(names))
    text = _FENCE.sub("", remote.complete(api_key, model, prompt, PARSE_TOKENS, timeout).strip())
    rows = [[v.strip() for v in line.split(",")][:parsing.MAX_VARIABLES]
            for line in text.strip().splitlines() if line.strip()]
    if len(rows) != len(names):
        raise ProviderError(f"the provider returned {len(rows)} rows for {len(names)} filenames")
    return rows


def test_key(name: str, api_key: str) -> list[str]:
    """A key works when the models endpoint accepts it; returns the models."""
    if not api_key or len(api_key) > MAX_KEY_LENGTH:
        raise ProviderError("the API key is empty or too long")
    return provider(name).list_models(api_key)
