#!/usr/bin/env bash
# Fetch the wheels of openhcs==VERSION and of its resolved constraints (about 1.5 GB) once into
# the controller's cache, so every OpenHCS host installs from the controller instead of each
# downloading from PyPI (CI converges the role on fresh lab hosts every run). Like
# files/build-zeroc-ice-wheel.sh: cached per user and per Python version; a second run prints the
# cached path at once. Packages published only as source are built into wheels here.
#
# Usage: files/openhcs-wheelhouse.sh VERSION CONSTRAINTS [PYTHON]   (default: /usr/bin/python3)
# Prints the absolute path of a tar of the wheels on stdout (one file copies to a host in seconds,
# a hundred files take minutes through Ansible); progress goes to stderr.
set -euo pipefail

version=$1
constraints=$2
python=${3:-/usr/bin/python3}
[[ -f $constraints ]] || { echo "error: constraints file $constraints not found" >&2; exit 1; }
pytag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
cache=${XDG_CACHE_HOME:-$HOME/.cache}/omero-ansible-extended/wheels
folder=$cache/openhcs-$version-$pytag
archive=$folder.tar
stamp=$(sha256sum "$constraints" | cut -d' ' -f1)
mkdir -p "$cache"
# One fetch at a time: two role scenarios may start together.
exec 8>"$cache/.openhcs-$version-$pytag.lock"
flock 8

pack() {
    tar -cf "$archive.tmp" -C "$folder" --exclude=.complete .
    mv "$archive.tmp" "$archive"
}

if [[ -f $folder/.complete && $(cat "$folder/.complete") == "$stamp" ]]; then
    [[ -f $archive ]] || pack
    echo "$archive"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching the wheels of openhcs $version for $pytag (about 1.5 GB)" >&2
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "pip>=24" >&2
"$work/venv/bin/pip" wheel -q --disable-pip-version-check --wheel-dir "$work/wheels" \
    --constraint "$constraints" "openhcs==$version" >&2
rm -rf "$folder" "$archive"
mv "$work/wheels" "$folder"
pack
echo "$stamp" > "$folder/.complete"
echo "$archive"
