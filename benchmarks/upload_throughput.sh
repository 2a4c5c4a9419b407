#!/usr/bin/env bash
# Upload benchmark (outside CI): a 1 GiB file through nginx and gunicorn into the upload plugin,
# compared with the sequential write speed of the upload folder's disk, and the growth of the
# web workers' memory. Run ON the web host (it reads the disk and the omero-web unit's memory):
#
#   OMERO_PASSWORD=... benchmarks/upload_throughput.sh https://localhost alice [size-MiB]
#
# The password comes from OMERO_PASSWORD (or a prompt) and reaches curl on its standard input,
# never on a command line. CURL_OPTS=-k only for a lab's self-signed certificate.
#
# Environment: UPLOAD_DIR (default /var/lib/omero-plugins/upload), CHUNK_MIB (default 32, must
# not exceed OMERO_UPLOAD_CHUNK_BYTES), CURL_OPTS (extra curl options, default none),
# PROTOCOL (default prefix: X-Prefix-Sha256, the file's SHA-256 up to each chunk's end, as the
# upload page and the XT connector send; chunk: X-Chunk-Sha256 per chunk, as older clients).
# The digests are computed before the timed part (the page and the XT connector hash while
# sending; curl cannot), so the client's hashing is not in the measured time.
# Passes (exit 0) when throughput >= 70% of the disk's sequential write speed and the web
# workers grew by less than 100 MB; prints the numbers either way.
set -euo pipefail

base=${1:?usage: OMERO_PASSWORD=... $0 BASE_URL USER [SIZE_MIB]}
user=${2:?user}
password=${OMERO_PASSWORD:-}
[[ -n $password || ${SKIP_LOGIN:-} == 1 ]] || {
    read -r -s -p "OMERO password for $user: " password; echo; }
size_mib=${3:-1024}
upload_dir=${UPLOAD_DIR:-/var/lib/omero-plugins/upload}
chunk_mib=${CHUNK_MIB:-32}
protocol=${PROTOCOL:-prefix}
[[ $protocol == prefix || $protocol == chunk ]] || { echo "PROTOCOL: prefix or chunk"; exit 2; }
read -r -a curl_opts <<< "${CURL_OPTS:-}"
work=$(mktemp -d "${upload_dir}/.bench-XXXXXX")
jar=$work/cookies
trap 'rm -rf "$work"' EXIT

mib=$((1024 * 1024))
now() { date +%s.%N; }
web_rss_kb() {  # the omero-web unit's processes (gunicorn master and workers)
    local cg
    cg=$(systemctl show -p ControlGroup --value omero-web.service 2>/dev/null) \
        || { echo 0; return; }  # no systemd (the local benchmark): not measured here
    awk '{print $1}' "/sys/fs/cgroup${cg}/cgroup.procs" 2>/dev/null \
        | xargs -r -I{} awk '/^VmRSS/ {print $2}' /proc/{}/status 2>/dev/null \
        | awk '{s += $1} END {print s + 0}'
}

echo "== disk: sequential write of ${size_mib} MiB to ${upload_dir}"
t0=$(now)
dd if=/dev/zero of="$work/seq" bs="${chunk_mib}M" count=$((size_mib / chunk_mib)) \
   conv=fdatasync status=none
t1=$(now)
rm -f "$work/seq"
disk_mbs=$(echo "$size_mib / ($t1 - $t0)" | bc -l)
printf 'disk: %.1f MiB/s\n' "$disk_mbs"

unit_cpu_s() {  # CPU seconds a systemd unit has used so far (0 if not accounted)
    local ns
    ns=$(systemctl show -p CPUUsageNSec --value "$1" 2>/dev/null || true)
    [[ $ns =~ ^[0-9]+$ ]] || ns=0
    echo "$ns / 1000000000" | bc -l
}

echo "== preparing a ${size_mib} MiB random file and its ${protocol} digests"
head -c $((size_mib * mib)) /dev/urandom > "$work/data"
chunks=$(( (size_mib + chunk_mib - 1) / chunk_mib ))
# One pass: the whole file's digest, then one line per chunk (its own or the running one).
mapfile -t digests < <(python3 - "$work/data" $((chunk_mib * mib)) "$protocol" <<'PY'
import hashlib, sys
path, chunk, protocol = sys.argv[1], int(sys.argv[2]), sys.argv[3]
running, lines = hashlib.sha256(), []
with open(path, "rb") as handle:
    while block := handle.read(chunk):
        running.update(block)
        lines.append((running.copy() if protocol == "prefix" else hashlib.sha256(block))
                     .hexdigest())
print(running.hexdigest(), *lines, sep="\n")
PY
)
file_sha=${digests[0]}
header=$([[ $protocol == prefix ]] && echo X-Prefix-Sha256 || echo X-Chunk-Sha256)

if [[ ${SKIP_LOGIN:-} == 1 ]]; then
    # Only for benchmarks/upload_gunicorn_local.py, where a test double replaces the login.
    echo "== NO LOGIN (SKIP_LOGIN=1): the server must stand in for OMERO's login itself"
    host=${base#*://}; host=${host%%[:/]*}
    printf '%s\tFALSE\t/\tFALSE\t0\tcsrftoken\t%s\n' "$host" \
        "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$jar"
else
    echo "== logging in to ${base} as ${user}"
    curl -fsS "${curl_opts[@]}" -c "$jar" -b "$jar" "$base/webclient/login/" -o /dev/null
    csrf=$(awk '$6 == "csrftoken" {print $7}' "$jar")
    printf '%s' "$password" | curl -fsS "${curl_opts[@]}" -c "$jar" -b "$jar" -o /dev/null \
         -e "$base/webclient/login/" -H "X-CSRFToken: $csrf" --data-urlencode "username=$user" \
         --data-urlencode "password@-" -d server=1 -d "csrfmiddlewaretoken=$csrf" \
         "$base/webclient/login/"
fi
csrf=$(awk '$6 == "csrftoken" {print $7}' "$jar")

job=$(curl -fsS "${curl_opts[@]}" -b "$jar" -e "$base/omeroweb_upload/" \
      -H "X-CSRFToken: $csrf" -H "Content-Type: application/json" \
      -d "{\"files\": [{\"relative_path\": \"bench.bin\", \"size\": $((size_mib * mib)), \"sha256\": \"$file_sha\"}], \"compatibility_enabled\": false}" \
      "$base/omeroweb_upload/start/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "job $job"

rss_before=$(web_rss_kb)
peak=$rss_before
(while sleep 0.5; do web_rss_kb; done > "$work/rss") & sampler=$!
web_cpu0=$(unit_cpu_s omero-web.service)
nginx_cpu0=$(unit_cpu_s nginx.service)
t0=$(now)
for ((i = 0; i < chunks; i++)); do
    dd if="$work/data" bs="${chunk_mib}M" skip=$i count=1 status=none \
    | curl -fsS "${curl_opts[@]}" -b "$jar" -e "$base/omeroweb_upload/" -o /dev/null \
           -H "X-CSRFToken: $csrf" -H "Content-Type: application/octet-stream" \
           -H "$header: ${digests[i + 1]}" --data-binary @- \
           "$base/omeroweb_upload/upload/$job/0/?offset=$((i * chunk_mib * mib))"
done
t1=$(now)
web_cpu=$(echo "$(unit_cpu_s omero-web.service) - $web_cpu0" | bc -l)
nginx_cpu=$(echo "$(unit_cpu_s nginx.service) - $nginx_cpu0" | bc -l)
kill "$sampler"
peak=$(sort -n "$work/rss" | tail -1)
peak=${peak:-$rss_before}

state=$(curl -fsS "${curl_opts[@]}" -b "$jar" "$base/omeroweb_upload/status/$job/" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["state"])')
upload_mbs=$(echo "$size_mib / ($t1 - $t0)" | bc -l)
ratio=$(echo "$upload_mbs / $disk_mbs" | bc -l)
growth_mb=$(( (peak - rss_before) / 1024 ))
printf 'upload: %.1f MiB/s over %d chunks of %d MiB (%s digests); file state %s\n' \
       "$upload_mbs" "$chunks" "$chunk_mib" "$protocol" "$state"
printf 'CPU seconds while uploading: omero-web %.1f, nginx %.1f (0: unit not accounted)\n' \
       "$web_cpu" "$nginx_cpu"
printf 'ratio to disk: %.0f%% (needs >= 70%%)\n' "$(echo "$ratio * 100" | bc -l)"
printf 'web workers RSS: %d MB before, %d MB peak, growth %d MB (needs < 100 MB)\n' \
       $((rss_before / 1024)) $((peak / 1024)) "$growth_mb"
[[ $state == uploaded ]] || { echo "FAIL: the file was not verified"; exit 1; }
(( $(echo "$ratio >= 0.7" | bc -l) )) || { echo "FAIL: throughput"; exit 1; }
(( growth_mb < 100 )) || { echo "FAIL: memory"; exit 1; }
echo "PASS"
