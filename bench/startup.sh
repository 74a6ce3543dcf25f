#!/usr/bin/env bash
# What one start of keel costs: boot to the first answer, then TERM and a clean stop. Prints the
# wall time and the CPU time and peak RSS of the whole process tree (primary, workers and their
# threads), as GNU time counts them for a process and the children it waited for.
#
#   bench/startup.sh PORT RUNS -- KEEL_ARGS...
#
# Example (node itself, not npx, so keel is the process GNU time starts):
#   bench/startup.sh 18297 5 -- serve examples/hello/app.ts -w 1 --admin off
#
# The test suite starts keel several hundred times, so this is also most of what `npm test` costs.
set -euo pipefail
port=$1; runs=$2; shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
node="$root/node_modules/node/bin/node"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$runs"); do
  /usr/bin/time -f '%e s wall, %U s user, %S s system, %M KB peak RSS' -o "$out/time" \
    "$node" "$root/bin/keel.js" "$@" -b "127.0.0.1:$port" >/dev/null 2>&1 &
  timer=$!
  answered=no
  for _ in $(seq 500); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then answered=yes; break; fi
    sleep 0.02
  done
  keel=$(pgrep -P "$timer" || true)
  [ -n "$keel" ] && kill -TERM "$keel"
  wait "$timer" || true
  [ "$answered" = yes ] || { echo "keel did not answer on 127.0.0.1:$port within 10 s" >&2; exit 1; }
  cat "$out/time"
done
