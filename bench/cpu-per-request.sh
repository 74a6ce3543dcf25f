#!/usr/bin/env bash
# Worker CPU time per request: less noisy than req/s on a shared 2-core VM, because it does not
# depend on how much CPU the machine gave the server during the run.
#
#   bench/cpu-per-request.sh LABEL PORT -- COMMAND...
#
# COMMAND must start a server on 127.0.0.1:PORT whose workers are direct children of the process
# it starts (node:cluster, keel). Prints req/s and the workers' user+system CPU µs per request,
# measured over a 4 s wrk load after a 2 s warm-up. URL overrides what wrk asks for (default
# http://127.0.0.1:PORT/), e.g. URL=https://127.0.0.1:PORT/ for a TLS bind; WRK_ARGS adds wrk options,
# e.g. WRK_ARGS="-s post.lua" for requests with a body. Example:
#
# (run node itself, not through npx, so the workers are the started process's children)
#   bench/cpu-per-request.sh keel 18293 -- node_modules/.bin/node bin/keel.js serve examples/hello/app.ts \
#     -w 1 -b 127.0.0.1:18293 --admin off --access-logfile /tmp/access.log
set -euo pipefail
label=$1; port=$2; shift 3
"$@" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
sleep 2
workers=$(pgrep -P "$server" | tr '\n' ' ')
ticks() { local t=0 v; for k in $workers; do for v in $(cut -d' ' -f14,15 "/proc/$k/stat" 2>/dev/null); do t=$((t + v)); done; done; echo "$t"; }
url=${URL:-http://127.0.0.1:$port/}
wrk -t1 -c50 -d2s ${WRK_ARGS:-} "$url" >/dev/null
before=$(ticks)
out=$(wrk -t1 -c50 -d4s ${WRK_ARGS:-} "$url")
after=$(ticks)
requests=$(echo "$out" | awk '/requests in/ {print $1}')
hz=$(getconf CLK_TCK)
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
awk -v l="$label" -v r="$rps" -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%s: %s req/s, %.1f µs CPU per request\n", l, r, t * 1e6 / hz / n }'
