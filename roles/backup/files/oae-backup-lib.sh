# shellcheck shell=bash
# Shared by the backup scripts: freshness metrics for the node exporter's textfile collector.

# Metrics are staged in the unit's StateDirectory; its ExecStartPost=+ publishes them to the
# node exporter's textfile directory (which the service's user may not write).
# write_metrics FILE_STEM TEXT
write_metrics() {
    local dir=${STATE_DIRECTORY:?run through the systemd unit (StateDirectory= unset)} tmp
    tmp=$(mktemp "$dir/.$1.XXXXXX")
    printf '%s\n' "$2" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$dir/$1.prom"
}

# backup_metrics KIND TARGET END_EPOCH DURATION SIZE_BYTES: the lines of one successful backup.
backup_metrics() {
    local labels="kind=\"$1\",target=\"$2\""
    printf '%s\n' \
        "# HELP oae_backup_last_success_timestamp_seconds Time of the last successful backup." \
        "# TYPE oae_backup_last_success_timestamp_seconds gauge" \
        "oae_backup_last_success_timestamp_seconds{$labels} $3" \
        "# HELP oae_backup_last_duration_seconds Duration of the last successful backup." \
        "# TYPE oae_backup_last_duration_seconds gauge" \
        "oae_backup_last_duration_seconds{$labels} $4" \
        "# HELP oae_backup_last_size_bytes Size of the last backup (dump file, or data added to the repository)." \
        "# TYPE oae_backup_last_size_bytes gauge" \
        "oae_backup_last_size_bytes{$labels} $5"
}
