#!/usr/bin/env bash
# Counts the instructions Redis executes per commit of the commit script
# (store.BenchmarkCommit), which, unlike time, do not depend on what else
# the machine runs. Needs valgrind and redis-server.
#
#   bench/commit-instructions.sh [store.test binary] [observe|alert|reference]
#
# Without a binary it builds the store tests of the working tree. It prints
# instructions per commit: (total after 2,500 commits - total after 500) / 2,000.
set -euo pipefail
bin=${1:-}
bench=${2:-observe}
if [ -z "$bin" ]; then
  bin=$(mktemp -d)/store.test
  go test -c -o "$bin" ./store/
fi
total() { # total instructions of a redis-server that served n commits
  local d; d=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" redis-server --port 0 \
    --unixsocket "$d/r.sock" --save "" --appendonly no >"$d/log" 2>&1 &
  for _ in $(seq 1 100); do [ -S "$d/r.sock" ] && break; sleep 0.2; done
  REDIS_URL="unix://$d/r.sock" "$bin" -test.run XXX -test.bench "BenchmarkCommit/$bench\$" \
    -test.benchtime "${1}x" >/dev/null 2>&1
  redis-cli -s "$d/r.sock" shutdown nosave >/dev/null 2>&1 || true
  wait
  grep -o 'Collected : [0-9]*' "$d/log" | awk '{print $3}'
  rm -rf "$d"
}
a=$(total 500)
b=$(total 2500)
echo "$bench: $(( (b - a) / 2000 )) instructions per commit"
