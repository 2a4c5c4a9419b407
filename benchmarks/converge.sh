#!/usr/bin/env bash
# Times a fresh converge of playbooks/site.yml on a new lab host and an idempotent re-run, and
# prints wall time and the recap's ok, changed and skipped counts for each, then the slowest
# tasks. Not run by CI. Needs root.
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

# profile_tasks times every task; the slowest ones of each run are printed below the table.
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=15
logs=$(mktemp -d)
converge() {  # converge NAME; prints "seconds ok changed skipped tasks-in-recap"
    local start=$SECONDS log=$logs/$1.log recap
    ansible-playbook -i "$inventory" playbooks/site.yml > "$log" || { tail -n 40 "$log" >&2; exit 1; }
    recap=$(grep -E '^oae-demo +:' "$log" | tail -n 1)
    field() { sed -E "s/.* $1=([0-9]+).*/\1/" <<<"$recap"; }
    echo "$((SECONDS - start)) $(field ok) $(field changed) $(field skipped)"
}
first=$(converge fresh)
second=$(converge rerun)
read -r t1 n1 c1 s1 <<<"$first"
read -r t2 n2 c2 s2 <<<"$second"
printf '%-22s %8s %6s %8s %8s\n' run seconds ok changed skipped
printf '%-22s %8s %6s %8s %8s\n' "host boot" "$boot" - - -
printf '%-22s %8s %6s %8s %8s\n' "fresh converge" "$t1" "$n1" "$c1" "$s1"
printf '%-22s %8s %6s %8s %8s\n' "idempotent re-run" "$t2" "$n2" "$c2" "$s2"
for run in fresh rerun; do
    echo
    echo "slowest tasks ($run):"
    sed -n '/^=\{20,\}/,$p' "$logs/$run.log" | grep -E ' -+ +[0-9.]+s$' | head -n 15
done
rm -rf "$logs"

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

