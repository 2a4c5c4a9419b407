#!/usr/bin/env bash
# Build the zeroc-ice 3.6.5 wheel for this machine's CPython from the PyPI source.
# omero-py needs zeroc-ice>=3.6.5,<3.7; PyPI has only the 3.6.5 sdist, which does not
# build on Python >= 3.11 as shipped. Three small patches fix that (see
# docs/design/zeroc-ice-wheel.md). The wheel is cached per user and per Python version:
# a second run prints the cached path in milliseconds.
#
# Usage: files/build-zeroc-ice-wheel.sh [PYTHON]   (default: /usr/bin/python3)
# Prints the absolute path of the wheel on stdout; progress goes to stderr.
set -euo pipefail

python=${1:-/usr/bin/python3}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/omero-ansible-extended/wheels
pytag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
mkdir -p "$cache"
# One build at a time: make up, make test and a developer's venv setup may start together, and a
# second build would only double the 4 minutes. Whoever waits finds the first one's wheel.
exec 8>"$cache/.build-$pytag.lock"
flock 8

existing=$(find "$cache" -maxdepth 1 -name "zeroc_ice-3.6.5-${pytag}-*.whl" | head -n 1)
if [[ -n $existing ]]; then
    echo "$existing"
    exit 0
fi

incdir=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[[ -f $incdir/Python.h ]] || { echo "error: Python headers missing for $python (install python3-dev)" >&2; exit 1; }
[[ -f /usr/include/openssl/ssl.h ]] || { echo "error: OpenSSL headers missing (install libssl-dev)" >&2; exit 1; }
[[ -f /usr/include/bzlib.h ]] || { echo "error: bzip2 headers missing (install libbz2-dev)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building zeroc-ice 3.6.5 for $pytag (about 4 minutes on 2 cores)" >&2
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "setuptools<81" wheel >&2
"$work/venv/bin/pip" download -q --no-deps --no-binary :all: -d "$work" zeroc-ice==3.6.5 >&2
tar -xzf "$work"/zeroc-ice-3.6.5.tar.gz -C "$work"
src=$work/zeroc-ice-3.6.5

# Python 3.11 removed eval.h and PyThreadState.frame; 3.12 removed the imp module.
sed -i '/#include <eval.h>/d' "$src/src/Slice.cpp"
sed -i 's/PyThreadState_GET()->frame/PyEval_GetFrame()/' "$src/src/Util.cpp"
sed -i -e 's/^import sys, string, imp, os, threading, warnings, datetime$/import sys, string, types, os, threading, warnings, datetime/' \
       -e 's/imp\.new_module(/types.ModuleType(/g' "$src/lib/Ice.py"
grep -q 'PyEval_GetFrame()' "$src/src/Util.cpp" || { echo "error: Util.cpp patch did not apply" >&2; exit 1; }

(cd "$src" && CFLAGS=-g0 MAKEFLAGS=-j"$(nproc)" "$work/venv/bin/python" setup.py -q bdist_wheel >&2)
wheel=$(find "$src/dist" -name 'zeroc_ice-3.6.5-*.whl' | head -n 1)
[[ -n $wheel ]] || { echo "error: no wheel produced" >&2; exit 1; }
cp "$wheel" "$cache/"
echo "$cache/$(basename "$wheel")"
