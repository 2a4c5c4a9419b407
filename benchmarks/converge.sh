#!/usr/bin/env bash
# Times a fresh converge of playbooks/site.yml on a new lab host and an idempotent re-run, and
# prints wall time, task count and changed count for each. Not run by CI. Needs root.
#   benchmarks/converge.sh [INVENTORY]   (default: inventories/local, host oae-demo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
inventory=${1:-inventories/local}
export PATH=$root/.venv/bin:$PATH LANG=C.UTF-8 ANSIBLE_CONFIG=$root/ansible.cfg
bin/setup-controller
lab=molecule/lab/oaelab
"$lab" down --missing-ok oae-demo
t0=$SECONDS
"$lab" up oae-demo=10.231.0.50 >/dev/null
boot=$((SECONDS - t0))
bin/demo vault

converge() {  # prints "seconds tasks changed"
    local start=$SECONDS log
    log=$(mktemp)
    ansible-playbook -i "$inventory" playbooks/site.yml > "$log" || { tail -n 40 "$log" >&2; exit 1; }
    local recap
    recap=$(grep -E '^oae-demo +:' "$log" | tail -n 1)
    local ok changed
    ok=$(sed -E 's/.*ok=([0-9]+).*/\1/' <<<"$recap")
    changed=$(sed -E 's/.*changed=([0-9]+).*/\1/' <<<"$recap")
    rm -f "$log"
    echo "$((SECONDS - start)) $ok $changed"
}
first=$(converge)
second=$(converge)
read -r t1 n1 c1 <<<"$first"
read -r t2 n2 c2 <<<"$second"
printf '%-22s %8s %6s %8s\n' run seconds tasks changed
printf '%-22s %8s %6s %8s\n' "host boot" "$boot" - -
printf '%-22s %8s %6s %8s\n' "fresh converge" "$t1" "$n1" "$c1"
printf '%-22s %8s %6s %8s\n' "idempotent re-run" "$t2" "$n2" "$c2"

# Memory at rest: resident memory of each platform unit's processes (systemd's own accounting
# needs the memory controller, which lab containers do not have).
echo
echo "memory at rest (RSS, MiB):"
"$lab" exec oae-demo -- sh -c '
total=0
for unit in $(systemctl list-units --no-legend --plain --state=running --type=service "omero*" "postgresql@*" "redis-server@*" nginx.service | cut -d" " -f1); do
    kb=0
    cgroup=$(systemctl show -p ControlGroup --value "$unit")  # template units sit in their own slice
    for pid in $(cat "/sys/fs/cgroup$cgroup/cgroup.procs" 2>/dev/null); do
        kb=$((kb + $(awk "/^VmRSS/ {print \$2}" /proc/$pid/status 2>/dev/null || echo 0)))
    done
    printf "  %-34s %6d\n" "$unit" $((kb / 1024)); total=$((total + kb))
done
printf "  %-34s %6d\n" total $((total / 1024))'

