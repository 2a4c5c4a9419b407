"""The OMERO Connector's logic, without Tk: an OMERO.web client (login with CSRF, /api/v0
browsing, .ims export through omeroweb_imaris_connector, resumable uploads through
omeroweb_upload), settings saved without the password, and the Imaris side (open, save,
describe the dataset).

Standard library only, Python 3.7 or newer: Imaris runs XT extensions with its own Python.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import logging
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SETTINGS_DIR = os.path.join(os.path.expanduser("~"), ".imaris_omero_connector")
SETTINGS_KEYS = ("host", "port", "https", "username", "download_dir")
UPLOAD_CHUNK = 32 * 1024 * 1024  # the upload plugin's default largest chunk (older: 8 MiB)
MIN_CHUNK = 64 * 1024  # its smallest setting
log = logging.getLogger("XTOmeroConnector")


class ConnectorError(Exception):
    """A failure worth showing to the user in the status bar (with the HTTP status, if any)."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


# -- settings --------------------------------------------------------------------------------


def load_settings(directory: str = SETTINGS_DIR) -> dict:
    path = os.path.join(directory, "settings.json")
    defaults = {"host": "", "port": 443, "https": True, "username": "", "download_dir": ""}
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, ValueError):
        return defaults
    defaults.update({k: saved[k] for k in SETTINGS_KEYS if k in saved})
    return defaults


def save_settings(values: dict, directory: str = SETTINGS_DIR) -> str:
    """Write the settings (never the password), readable by the user only."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "settings.json")
    kept = {k: values[k] for k in SETTINGS_KEYS if k in values}
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(kept, handle, indent=1)
    os.replace(path + ".tmp", path)
    return path


def setup_logging(directory: str | None = None) -> str:
    """Log to <temp>/XTOmeroConnector_<time>.log, as the original; returns the path."""
    directory = directory or tempfile.gettempdir()
    path = os.path.join(directory, "XTOmeroConnector_{}.log".format(time.strftime("%Y%m%d_%H%M%S")))
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return path


def base_url(host: str, port: int, https: bool) -> str:
    host = host.strip().rstrip("/")
    if "://" in host:
        host = host.split("://", 1)[1]
    if not host:
        raise ConnectorError("enter the OMERO.web server name")
    scheme = "https" if https else "http"
    default = 443 if https else 80
    return "{}://{}{}".format(scheme, host, "" if int(port) == default else f":{port}")


# -- OMERO.web ---------------------------------------------------------------------------------


class WebClient:
    """One OMERO.web session: cookies (sessionid, csrftoken) and the CSRF token for writes."""

    def __init__(self, base: str, timeout: float = 60) -> None:
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf_token = ""
        self._credentials = None  # kept in memory only, for one re-login after expiry

    def url(self, path: str) -> str:
        full = path if "://" in path else self.base + path
        if urllib.parse.urlsplit(full).scheme not in ("http", "https"):
            raise ConnectorError(f"not an http(s) address: {full}")
        return full

    def _open(self, method: str, path: str, data: bytes | None = None,
              headers: dict | None = None, retry_login: bool = True):
        headers = dict(headers or {})
        if method != "GET":
            headers.setdefault("X-CSRFToken", self.csrf_token)
            headers.setdefault("Referer", self.base + "/")
        # url() allows only http and https.
        request = urllib.request.Request(self.url(path), data=data, headers=headers,  # noqa: S310
                                         method=method)
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403) and retry_login and self._credentials:
                log.info("session expired (%s); logging in again", exc.code)
                self.login(*self._credentials)
                return self._open(method, path, data, headers={
                    k: v for k, v in headers.items() if k != "X-CSRFToken"}, retry_login=False)
            message, code = self._error_details(exc)
            raise ConnectorError(message, exc.code, code) from None
        except urllib.error.URLError as exc:
            raise ConnectorError(f"cannot reach {self.base}: {exc.reason}") from None
        if "/webclient/login" in response.geturl() and retry_login and self._credentials:
            self.login(*self._credentials)  # redirected to the login page: session gone
            return self._open(method, path, data, headers, retry_login=False)
        return response

    @staticmethod
    def _error_details(exc: urllib.error.HTTPError) -> tuple:
        """("HTTP <status>: <the server's message>", the server's error code or None)."""
        code = None
        try:
            body = json.loads(exc.read().decode("utf-8"))
            error = body.get("error")
            message = error.get("message") if isinstance(error, dict) else error or body.get(
                "message")
            code = error.get("code") if isinstance(error, dict) else None
        except (ValueError, AttributeError):
            message = None
        return f"HTTP {exc.code}: {message or exc.reason}", code

    def get_json(self, path: str) -> dict:
        with self._open("GET", path) as response:
            return json.loads(response.read().decode("utf-8"))

    def post_json(self, path: str, body: dict) -> dict:
        data = json.dumps(body).encode("utf-8")
        with self._open("POST", path, data, {"Content-Type": "application/json"}) as response:
            return json.loads(response.read().decode("utf-8"))

    def login(self, username: str, password: str, server_id: int = 1) -> dict:
        """GET /api/v0/token/ for the CSRF token, then POST /api/v0/login/ with it."""
        self.csrf_token = self.get_json("/api/v0/token/")["data"]
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "server": server_id}).encode("utf-8")
        try:
            with self._open("POST", "/api/v0/login/", form,
                            {"Content-Type": "application/x-www-form-urlencoded"},
                            retry_login=False) as response:
                result = json.loads(response.read().decode("utf-8"))
        except ConnectorError as exc:
            raise ConnectorError(f"login failed: {exc}") from None
        if not result.get("success"):
            raise ConnectorError("login failed: {}".format(result.get("message", "refused")))
        # Django rotates the CSRF token at login.
        for cookie in self.cookies:
            if cookie.name == "csrftoken":
                self.csrf_token = cookie.value
        self._credentials = (username, password, server_id)
        log.info("logged in to %s as %s", self.base, username)
        return result.get("eventContext", {})

    # browsing: the JSON API's /m/ endpoints

    def _all(self, path: str) -> list:
        items, offset = [], 0
        while True:
            separator = "&" if "?" in path else "?"
            page = self.get_json(f"{path}{separator}offset={offset}&limit=200")
            items.extend(page.get("data", []))
            total = page.get("meta", {}).get("totalCount", len(items))
            if not page.get("data") or len(items) >= total:
                return items
            offset = len(items)

    def projects(self) -> list:
        return [{"id": p["@id"], "name": p.get("Name", "")}
                for p in self._all("/api/v0/m/projects/")]

    def datasets(self, project_id: int) -> list:
        return [{"id": d["@id"], "name": d.get("Name", "")}
                for d in self._all(f"/api/v0/m/projects/{project_id}/datasets/")]

    def images(self, dataset_id: int) -> list:
        result = []
        for image in self._all(f"/api/v0/m/datasets/{dataset_id}/images/"):
            pixels = image.get("Pixels", {})
            size = "x".join(str(pixels.get("Size" + d, "?")) for d in "XYZCT")
            result.append({"id": image["@id"], "name": image.get("Name", ""), "size": size})
        return result

    # the Imaris connector plugin

    def request_export(self, image_id: int) -> dict:
        return self.post_json("/omeroweb_imaris_connector/exports/",
                              {"image": int(image_id), "async": True})

    def wait_for_export(self, job: dict, interval: float = 2.0, timeout: float = 3600,
                        on_status=lambda status: None) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            status = self.get_json(job["status_url"])
            on_status(status)
            if status.get("finished"):
                if status.get("state") != "succeeded":
                    raise ConnectorError("export failed: {}".format(status.get("error")))
                return status
            if time.monotonic() > deadline:
                raise ConnectorError(f"export not finished after {timeout:g} s")
            time.sleep(interval)

    def download(self, path: str, target: str, on_bytes=lambda done, total: None) -> str:
        """Stream to `target` (written as .part, renamed when complete), check HDF5."""
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        partial = target + ".part"
        with self._open("GET", path) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while True:
                chunk = response.read(1024 * 1024)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                on_bytes(done, total)
        if total and done != total:
            raise ConnectorError(f"download incomplete: {done} of {total} bytes")
        with open(partial, "rb") as handle:
            if handle.read(8) != HDF5_SIGNATURE:
                os.remove(partial)
                raise ConnectorError("the downloaded file is not an HDF5 (.ims) file")
        os.replace(partial, target)
        log.info("downloaded %s (%s bytes)", target, done)
        return target


def default_download_dir() -> str:
    desktop = os.path.join(os.path.expanduser("~"), "Desktop")
    root = desktop if os.path.isdir(desktop) else tempfile.gettempdir()
    return os.path.join(root, "ImarisOMEROExports")


def export_to_file(client: WebClient, image_id: int, download_dir: str, interval: float = 2.0,
                   on_status=lambda text: None) -> str:
    """OMERO → local .ims: request, poll, download to <dir>/img_<id>/<name>."""
    job = client.request_export(image_id)
    on_status("export queued")
    status = client.wait_for_export(
        job, interval=interval,
        on_status=lambda s: on_status("export {}: {}".format(s.get("state"), s.get("status"))))
    name = (status.get("result") or {}).get("export_name") or f"image_{image_id}.ims"
    target = os.path.join(download_dir, f"img_{image_id}", os.path.basename(name))
    on_status("downloading")
    return client.download(job["download_url"], target)


# -- the upload plugin ----------------------------------------------------------------------------


def _prefix_sha256(handle, length: int):
    """A running SHA-256 of the file's first `length` bytes (what the server confirmed)."""
    digest = hashlib.sha256()
    handle.seek(0)
    while length > 0:
        block = handle.read(min(1024 * 1024, length))
        if not block:
            raise ConnectorError("the file is shorter than what the server already has")
        digest.update(block)
        length -= len(block)
    return digest


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def imported_image_ids(status: dict) -> list:
    return [i for f in status.get("files", []) for i in (f.get("image_ids") or [])]


class UploadApi:
    """The omeroweb_upload plugin's API (docs/plugins/upload.md), as its own page uses it:

    POST start/ {project_id, files: [{relative_path, size, sha256}]} → 201 the job's status
    POST upload/<job>/<index>/?offset=N, raw bytes, X-Prefix-Sha256 (the file's SHA-256 up to
         the chunk's end; X-Chunk-Sha256, the chunk's own, where the server answers
         prefix_unsupported) → {received_bytes, state}
         (409 wrong_offset: continue from the offset status/ confirms)
    GET  status/<job>/ → {state, files: [{index, received_bytes, state, compat, image_ids}]}
    POST prune/<job>/ {keep_paths}, confirm/<job>/, import/<job>/ → 202

    Every file goes below a folder named after the target dataset: the plugin makes one dataset
    per top-level folder (found or created in the project).
    """

    def __init__(self, client: WebClient, prefix: str = "/omeroweb_upload",
                 chunk_bytes: int = UPLOAD_CHUNK, interval: float = 1.0,
                 timeout: float = 24 * 3600) -> None:
        self.client, self.prefix = client, prefix.rstrip("/")
        self.chunk_bytes, self.interval, self.timeout = chunk_bytes, interval, timeout

    def send_files(self, files: list, dataset_name: str, project_id: int | None = None,
                   on_status=lambda text: None) -> dict:
        """files: [(absolute path, relative path)]; returns the finished job's status."""
        job = self.start(files, dataset_name, project_id)
        on_status("upload {} started".format(job["id"]))
        return self.resume(job["id"], [path for path, _ in files], on_status)

    def start(self, files: list, dataset_name: str, project_id: int | None = None) -> dict:
        folder = dataset_name.replace("/", "_").strip() or "Imaris"
        listed = [{"relative_path": folder + "/" + rel.replace(os.sep, "/"),
                   "size": os.path.getsize(path), "sha256": file_sha256(path)}
                  for path, rel in files]
        body = {"files": listed}
        if project_id is not None:
            body["project_id"] = int(project_id)
        return self.client.post_json(self.prefix + "/start/", body)

    def status(self, job_id: str) -> dict:
        return self.client.get_json(f"{self.prefix}/status/{job_id}/")

    def resume(self, job_id: str, paths: list, on_status=lambda text: None) -> dict:
        """Send what the server has not confirmed yet (paths in the order they were listed),
        then check, import and wait for the end."""
        pending = [f for f in self.status(job_id)["files"] if f["state"] == "pending"]
        for number, entry in enumerate(pending, 1):
            self.send_file(job_id, entry["index"], paths[entry["index"]],
                           entry["received_bytes"])
            on_status("uploaded {} of {}: {}".format(number, len(pending),
                                                      entry["relative_path"]))
        return self.finish(job_id, on_status)

    def _confirmed(self, job_id: str, index: int) -> dict:
        for entry in self.status(job_id)["files"]:
            if entry["index"] == index:
                return entry
        raise ConnectorError(f"the upload job has no file {index}")

    def send_file(self, job_id: str, index: int, path: str, offset: int = 0) -> None:
        size = os.path.getsize(path)
        conflicts = 0
        with open(path, "rb") as handle:
            running = _prefix_sha256(handle, offset)  # None: the server takes chunk digests
            while offset < size:
                handle.seek(offset)
                chunk = handle.read(self.chunk_bytes)
                query = urllib.parse.urlencode({"offset": offset})
                headers = {"Content-Type": "application/octet-stream"}
                if running is not None:
                    after = running.copy()
                    after.update(chunk)
                    headers["X-Prefix-Sha256"] = after.hexdigest()
                else:
                    headers["X-Chunk-Sha256"] = hashlib.sha256(chunk).hexdigest()
                try:
                    with self.client._open("POST", f"{self.prefix}/upload/{job_id}/{index}/"
                                           f"?{query}", chunk, headers) as response:
                        answer = json.loads(response.read().decode("utf-8"))
                except ConnectorError as exc:
                    if exc.code == "prefix_unsupported" and running is not None:
                        running = None  # an older or restricted server: chunk digests
                        continue
                    if exc.status == 413 and self.chunk_bytes > MIN_CHUNK:
                        self.chunk_bytes = max(MIN_CHUNK, self.chunk_bytes // 2)
                        continue  # the server takes smaller chunks
                    if exc.status != 409 or conflicts >= 3:
                        raise
                    conflicts += 1  # a chunk confirmed without us hearing the answer
                    entry = self._confirmed(job_id, index)
                    if entry["state"] != "pending":
                        return
                    offset = entry["received_bytes"]
                    log.info("file %s: continuing at the confirmed offset %s", index, offset)
                    if running is not None:
                        running = _prefix_sha256(handle, offset)
                    continue
                offset = answer["received_bytes"]
                if running is not None:
                    running = after
                if answer["state"] != "pending":
                    return

    def finish(self, job_id: str, on_status=lambda text: None) -> dict:
        """uploading → checking → ready (import) or awaiting_confirmation (keep the files
        OMERO can read, then import) → importing → done."""
        deadline = time.monotonic() + self.timeout
        while True:
            status = self.status(job_id)
            state = status["state"]
            on_status(f"upload {state}")
            if state == "done":
                return status
            if state == "error":
                raise ConnectorError("upload failed: {}".format(
                    "; ".join(status.get("messages") or []) or "see the upload page"))
            if state == "awaiting_confirmation":
                readable = [f["relative_path"] for f in status["files"]
                            if f["state"] == "uploaded" and f["compat"] != "incompatible"]
                if not readable:
                    raise ConnectorError("OMERO cannot read any of the files")
                self.client.post_json(f"{self.prefix}/prune/{job_id}/", {"keep_paths": readable})
                continue
            if state == "ready":
                self.client.post_json(f"{self.prefix}/import/{job_id}/", {})
                continue
            if state == "uploading":
                missing = [f["relative_path"] for f in status["files"] if f["state"] == "pending"]
                raise ConnectorError("the server has not confirmed every byte of: "
                                     + ", ".join(missing))
            if time.monotonic() > deadline:
                raise ConnectorError(f"upload not finished after {self.timeout:g} s")
            time.sleep(self.interval)


def folder_files(folder: str) -> list:
    """Every file below `folder` with its path relative to it (hidden files skipped)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                path = os.path.join(root, name)
                found.append((path, os.path.relpath(path, folder)))
    return found


# -- Imaris ------------------------------------------------------------------------------------


def imaris_application(imaris_id: int):
    import ImarisLib  # provided by Imaris next to its XT Python

    application = ImarisLib.ImarisLib().GetApplication(imaris_id)
    if application is None:
        raise ConnectorError(f"Imaris (id {imaris_id}) is not reachable")
    return application


def open_in_imaris(application, path: str) -> None:
    application.FileOpen(path, "")
    log.info("opened %s in Imaris", path)


def describe_dataset(application) -> dict:
    dataset = application.GetDataSet()
    if dataset is None:
        raise ConnectorError("Imaris has no dataset open")
    return {
        "size": [dataset.GetSizeX(), dataset.GetSizeY(), dataset.GetSizeZ(),
                 dataset.GetSizeC(), dataset.GetSizeT()],
        "type": str(dataset.GetType()),
        "channels": [dataset.GetChannelName(c) for c in range(dataset.GetSizeC())],
        "extent_min": [dataset.GetExtendMinX(), dataset.GetExtendMinY(),
                       dataset.GetExtendMinZ()],
        "extent_max": [dataset.GetExtendMaxX(), dataset.GetExtendMaxY(),
                       dataset.GetExtendMaxZ()],
    }


def save_current_dataset(application, directory: str | None = None) -> str:
    """FileSave the open dataset to a new temporary .ims named after the current file."""
    current = application.GetCurrentFileName() or "imaris_dataset.ims"
    stem = os.path.splitext(os.path.basename(current))[0] or "imaris_dataset"
    directory = directory or tempfile.mkdtemp(prefix="xt_omero_")
    path = os.path.join(directory, f"{stem}_{uuid.uuid4().hex[:8]}.ims")
    application.FileSave(path, "")
    if not os.path.isfile(path):
        raise ConnectorError(f"Imaris did not write {path}")
    log.info("saved the current dataset to %s", path)
    return path
