"""A stand-in for `omero import`, run as an executable by the tests.

It reproduces what the importer relies on in the real command: `import -f` prints the
Bio-Formats groups (`# Group: <file> SPW: false Reader: ...`) on stdout and nothing for an
unreadable file; `import` attaches to the session stored in OMERO_SESSIONDIR, prints one
`Image:<id>` line per created image on stdout, log lines and the `==> Summary` on stderr, and
exits non-zero on errors. The file name picks a failure mode: `fail` (exit 2, nothing created),
`partial` (one image, then exit 2), `slow` (hangs), `noimage` (exit 0, no Image line).
Images are created in the test's FakeOmero through STANDIN_OMERO_SOCKET, or taken from
STANDIN_OMERO_IMAGE_IDS (a real worker owns its fake in another process).
"""

import json
import os
import socket
import sys
import time
from datetime import datetime

READABLE = (".tif", ".tiff", ".czi", ".nd2", ".lif", ".png", ".jpg", ".dv", ".ims")


def log(level, message):
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    print(f"{stamp} 1234       [      main] {level:5} ome.formats.importer.cli."
          f"CommandLineImporter - {message}", file=sys.stderr)


def summary(files, images, errors):
    print("==> Summary", file=sys.stderr)
    print(f"{files} files uploaded, {files} fileset created, {images} image imported, "
          f"{errors} errors in 0:00:01.234", file=sys.stderr)


def stored_session():
    from omero.util.sessions import SessionsStore

    folder = os.environ.get("OMERO_SESSIONDIR")
    if not folder:
        return None
    _host, _name, uuid, _port = SessionsStore(folder).get_current()
    return uuid


def main(argv):
    with open(os.environ.get("STANDIN_OMERO_ARGV_LOG", os.devnull), "a") as record:
        record.write(json.dumps(argv) + "\n")
    if not argv or argv[0] != "import":
        print("stand-in: only `omero import` is supported", file=sys.stderr)
        return 2
    args = argv[1:]
    path = args[args.index("--") + 1]
    name = os.path.basename(path)
    if "-f" in args:
        if "checkcrash" in name:
            print("java.lang.OutOfMemoryError", file=sys.stderr)
            return 3
        if name.lower().endswith(READABLE):
            print("#======================================")
            print(f"# Group: {path} SPW: false Reader: loci.formats.in.TiffReader")
            print(path)
        log("INFO", f"{1 if name.lower().endswith(READABLE) else 0} file(s) parsed")
        return 0
    dataset = int(args[args.index("-d") + 1]) if "-d" in args else None
    key = stored_session()
    if not key:
        log("ERROR", "no session: cannot log in without a password")
        return 1
    if "slow" in name:
        if os.environ.get("STANDIN_OMERO_PIDS"):
            with open(os.environ["STANDIN_OMERO_PIDS"], "a") as pids:
                pids.write(f"{os.getpid()}\n")
        time.sleep(600)
    if "fail" in name:
        log("ERROR", f"FILE_EXCEPTION: {path}")
        print("java.io.IOException: Unsupported or corrupt file", file=sys.stderr)
        summary(0, 0, 1)
        return 2
    series = [""] if "multi" not in name else [" [0]", " [1]", " [2]"]
    if "partial" in name:
        series = [" [0]"]
    images = []
    if os.environ.get("STANDIN_OMERO_SOCKET"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(os.environ["STANDIN_OMERO_SOCKET"])
            sock.sendall(json.dumps({"session": key, "dataset": dataset, "name": name,
                                     "series": series}).encode() + b"\n")
            reply = json.loads(sock.makefile().readline())
        if "error" in reply:
            log("ERROR", reply["error"])
            return 1
        images = reply["images"]
    elif os.environ.get("STANDIN_OMERO_IMAGE_IDS"):
        images = [int(i) for i in os.environ["STANDIN_OMERO_IMAGE_IDS"].split(",")][:len(series)]
    log("INFO", f"Using session {key[:4]}... Reading {path}")
    if "noimage" in name:
        summary(1, 0, 0)
        return 0
    for image in images:
        print(f"Image:{image}")
    sys.stdout.flush()
    if "partial" in name:
        log("ERROR", "java.lang.RuntimeException: pixel data truncated in series 1")
        summary(1, 1, 1)
        return 2
    summary(1, len(images), 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
