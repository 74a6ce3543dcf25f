#!/usr/bin/env bash
# Instructions per request of one running worker, counted by valgrind: the same figure whatever
# else this noisy 2-core VM is doing (seconds are not). Start the server under callgrind first:
#
#   valgrind --tool=callgrind --trace-children=yes --smc-check=all --callgrind-out-file=/tmp/cg/%p \
#     node_modules/.bin/node bin/keel.js serve examples/hello/app.ts -w 1 -b 127.0.0.1:18295 --admin off
#   callgrind_control            # lists the processes; the worker runs dist/worker/entry.js
#   bench/instructions-per-request.sh WORKER_PID 18295 6000
#
# Repeat until the figure settles: the first runs include JIT warm-up. Counts user-space
# instructions of the whole worker process (JIT code included), not kernel time.
set -euo pipefail
pid=$1; port=$2; n=${3:-6000}
callgrind_control -d "$pid" >/dev/null 2>&1
h2load --h1 -n "$n" -c 10 "http://127.0.0.1:$port/" | grep -E '^requests:'
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 1
# callgrind writes each dump next to its output file, as FILE.N (the doc above uses /tmp/cg/PID).
dump=$(ls -t /tmp/cg/*"$pid".[0-9]* | head -1)
awk -v n="$n" '/^(summary|totals):/ { printf "%.0f instructions per request\n", $2 / n; exit }' "$dump"
