"""The scripts service and script jobs. Registered scripts (FakeOmero.add_script) run
synchronously inside runScript, as the calling user; the process is finished when returned."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

import omero
import omero.grid
import omero.model
from omero.rtypes import rint, rstring, unwrap, wrap

from .calls import counted
from .contract import fake_of
from .errors import api_usage
from .server_config import no_processor_available, take_busy_script_start

if TYPE_CHECKING:
    from .gateway import FakeBlitzGateway
    from .store import Script

@fake_of("omero.api.IScriptPrx")
class FakeScriptService:
    def __init__(self, conn: FakeBlitzGateway) -> None:
        self._conn = conn
        self._omero = conn._omero

    def _script(self, scriptID: int) -> Script:
        script = self._omero.scripts.get(int(scriptID))
        if script is None:
            raise api_usage(f"no script with id {scriptID}")
        return script

    def _file(self, script: Script) -> omero.model.OriginalFileI:
        file = omero.model.OriginalFileI(script.id, True)
        file.setName(rstring(script.name))
        file.setPath(rstring(script.path.rsplit("/", 1)[0] + "/"))
        file.setMimetype(rstring("text/x-python"))
        return file

    @counted("IScript.getScripts")
    def getScripts(self, _ctx: Any = None) -> list[omero.model.OriginalFileI]:
        return [self._file(s) for s in self._omero.scripts.values()]

    @counted("IScript.getScriptID")
    def getScriptID(self, path: str, _ctx: Any = None) -> int:
        """The id of the official script at ``path``, -1 when there is none."""
        for script in self._omero.scripts.values():
            if script.path == path:
                return script.id
        return -1

    @counted("IScript.getParams")
    def getParams(self, scriptID: int, _ctx: Any = None) -> omero.grid.JobParams:
        script = self._script(scriptID)
        inputs = {}
        for name, spec in script.params.items():
            param = omero.grid.Param()
            param.optional = bool(spec.get("optional", False))
            param.description = spec.get("description", "")
            param.prototype = spec.get("prototype")
            inputs[name] = param
        return omero.grid.JobParams(name=script.name, inputs=inputs, outputs={})

    @counted("IScript.canRunScript")
    def canRunScript(self, scriptID: int, _ctx: Any = None) -> bool:
        return int(scriptID) in self._omero.scripts

    @counted("IScript.runScript")
    def runScript(self, scriptID: int, inputs: dict[str, Any], waitSecs: int, _ctx: Any = None
                  ) -> FakeScriptProcess:
        script = self._script(scriptID)
        if take_busy_script_start(self._omero):
            raise no_processor_available()
        missing = [name for name, spec in script.params.items()
                   if not spec.get("optional", False) and name not in inputs]
        if missing:
            raise omero.ValidationException(message=f"missing script inputs {missing}")
        job = {"id": self._omero.next_id(), "script": script.path,
               "user": self._conn._acting_user.name,
               "inputs": {k: unwrap(v) for k, v in inputs.items()}, "status": "Running"}
        self._omero.script_jobs.append(job)
        try:
            outputs = script.run(self._conn, job["inputs"]) or {}
            results = {k: v if isinstance(v, omero.RType) else wrap(v)
                       for k, v in outputs.items()}
            job.update(status="Finished", returncode=0)
        except Exception:
            results = {"stderr": rstring(traceback.format_exc())}
            job.update(status="Error", returncode=1)
        return FakeScriptProcess(self._conn, job, results)


@fake_of("omero.grid.ScriptProcessPrx")
class FakeScriptProcess:
    def __init__(self, conn: FakeBlitzGateway, job: dict[str, Any], results: dict[str, Any]
                 ) -> None:
        self._omero = conn._omero
        self._job = job
        self._results = results

    @counted("ScriptProcess.poll")
    def poll(self, _ctx: Any = None) -> Any:
        return rint(self._job["returncode"])

    @counted("ScriptProcess.wait")
    def wait(self, _ctx: Any = None) -> int:
        return self._job["returncode"]

    @counted("ScriptProcess.cancel")
    def cancel(self, _ctx: Any = None) -> bool:
        return False

    @counted("ScriptProcess.getJob")
    def getJob(self, _ctx: Any = None) -> omero.model.ScriptJobI:
        job = omero.model.ScriptJobI(self._job["id"], True)
        job.setMessage(rstring(self._job["script"]))
        status = omero.model.JobStatusI()
        status.setValue(rstring(self._job["status"]))
        job.setStatus(status)
        return job

    @counted("ScriptProcess.getResults")
    def getResults(self, waitSecs: int, _ctx: Any = None) -> dict[str, Any]:
        return dict(self._results)

    @counted("ScriptProcess.close")
    def close(self, detach: bool, _ctx: Any = None) -> None:
        self._job["closed"] = True
