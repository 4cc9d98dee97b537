#!/usr/bin/env bash
# Stop exactly the daemons tests/cluster/slurm_up.sh started (their pids are in STATE/pids).
set -u
STATE=${STATE:-/tmp/lirec-slurm}
[ -f "$STATE/pids" ] || exit 0
while read -r pid; do
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
done < "$STATE/pids"
for _ in $(seq 40); do
  alive=0
  while read -r pid; do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1; done < "$STATE/pids"
  [ $alive = 0 ] && break
  sleep 0.25
done
rm -f "$STATE/pids"
