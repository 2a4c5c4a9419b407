#!/usr/bin/env bash
# Dump and restore timings and the dump's size ratio on a pgbench database (default scale 70,
# about 1 GB), with the same pg_dump/pg_restore options as the backup role. Never run by CI.
#   sudo benchmarks/backup_restore.sh [SCALE]
# Runs a throw-away PostgreSQL 15 cluster as the postgres user in a temporary directory on a
# free port (default 55432), so it touches no cluster of the machine. Needs root (to become
# postgres) and about 3 × the database size free below TMPDIR.
set -euo pipefail

scale=${1:-70}
port=${BENCH_PORT:-55432}
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
compression=${COMPRESSION:-6}
jobs=${JOBS:-2}
[[ $EUID -eq 0 ]] || { echo "run as root (the cluster runs as postgres)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/oae-bench.XXXXXX")
chown postgres: "$work"
pg() { runuser -u postgres -- "$@"; }
cleanup() {
    pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk "BEGIN {printf \"%.1f\", $2 - $1}"; }

# trust is safe here: no TCP listener, and the socket lives in a directory only postgres reads.
pg "$bindir/initdb" -D "$work/data" -E UTF8 --locale=C.UTF-8 --data-checksums --auth=trust >/dev/null
pg "$bindir/pg_ctl" -D "$work/data" -l "$work/log" -w \
    -o "-p $port -k $work -c listen_addresses='' -c shared_buffers=512MB -c maintenance_work_mem=512MB -c max_wal_size=4GB" start >/dev/null
export PGHOST=$work PGPORT=$port
pg "$bindir/createdb" bench

t0=$(now)
pg "$bindir/pgbench" -i -q -s "$scale" bench 2>/dev/null
t1=$(now)
db_bytes=$(pg "$bindir/psql" -XAtq -d bench -c "SELECT pg_database_size('bench')")

t2=$(now)
pg "$bindir/pg_dump" --format=custom --compress="$compression" --dbname=bench --file="$work/bench.dump"
t3=$(now)
(cd "$work" && sha256sum bench.dump >bench.dump.sha256)
t4=$(now)
dump_bytes=$(stat -c %s "$work/bench.dump")

pg "$bindir/createdb" restored
t5=$(now)
pg "$bindir/pg_restore" --exit-on-error --jobs="$jobs" --dbname=restored "$work/bench.dump"
pg "$bindir/vacuumdb" --analyze-only --quiet --dbname=restored
t6=$(now)

same=$(pg "$bindir/psql" -XAtq -d restored -c "SELECT count(*) FROM pgbench_accounts")
want=$((scale * 100000))
[[ $same == "$want" ]] || { echo "restored pgbench_accounts has $same rows, expected $want" >&2; exit 1; }

cat <<REPORT
pgbench scale           $scale ($want accounts)
load (pgbench -i)       $(elapsed "$t0" "$t1") s
database size           $((db_bytes / 1048576)) MiB
pg_dump -Fc -Z$compression          $(elapsed "$t2" "$t3") s
sha256 of the dump      $(elapsed "$t3" "$t4") s
dump size               $((dump_bytes / 1048576)) MiB
size ratio dump/db      $(awk "BEGIN {printf \"%.3f\", $dump_bytes / $db_bytes}")
pg_restore -j$jobs + analyze  $(elapsed "$t5" "$t6") s
REPORT
