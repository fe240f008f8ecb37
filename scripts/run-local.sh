#!/usr/bin/env bash
# Runs Redswitch for real on this machine:
#   - a local redis-server on 127.0.0.1:6379 (installed with apt-get if missing, started if
#     nothing answers there; PUBSUB_REDIS_URL set by you wins and nothing is started),
#   - the FreeSWITCH simulator on 127.0.0.1:8021 unless ESL_URL names a real FreeSWITCH,
#   - the server, in the foreground, with the environment of SPEC §2.
# Ctrl-C stops the server (it drains live calls first) and whatever this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

# Children run in sessions of their own so that Ctrl-C reaches only this script, which then
# stops them newest first: the server drains its calls while FreeSWITCH and Redis are still up.
pids=()
cleanup() {
  trap - EXIT INT TERM
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

if [ -z "${PUBSUB_REDIS_URL:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "run-local: installing redis-server" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    setsid redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --loglevel warning &
    pids+=($!)
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  export PUBSUB_REDIS_URL=redis://127.0.0.1:6379
fi

build_log=$(mktemp)
if ! dotnet build Redswitch.sln -c Release -v q -nologo >"$build_log" 2>&1; then
  cat "$build_log" >&2
  exit 1
fi
rm -f "$build_log"

if [ -z "${ESL_URL:-}" ]; then
  # Something already on 8021 may be a real FreeSWITCH: the demo's numbers would ring real phones. Use it only when
  # ESL_URL names it.
  if (exec 3<>/dev/tcp/127.0.0.1/8021) 2>/dev/null; then
    echo "run-local: something already listens on 127.0.0.1:8021; not starting the simulator there." >&2
    echo "run-local: stop it, or set ESL_URL=127.0.0.1:8021 (and ESL_PASSWORD) to use it as your FreeSWITCH." >&2
    exit 1
  fi
  # The built programs are started directly (not through `dotnet run`, which does not pass
  # SIGTERM on), so Ctrl-C reaches them and each stops cleanly.
  setsid dotnet Redswitch.Simulator/bin/Release/net10.0/Redswitch.Simulator.dll --listen 127.0.0.1:8021 --password "${ESL_PASSWORD:-ClueCon}" &
  pids+=($!)
  export ESL_URL=127.0.0.1:8021
  for _ in $(seq 100); do
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "run-local: the simulator did not start" >&2; exit 1; }
    (exec 3<>/dev/tcp/127.0.0.1/8021) 2>/dev/null && break
    sleep 0.1
  done
fi

# On one machine FreeSWITCH (or the simulator) reaches this instance on loopback.
export OUTBOUND_LISTEN="${OUTBOUND_LISTEN:-127.0.0.1:8084}"
export METRICS_LISTEN="${METRICS_LISTEN:-127.0.0.1:9464}"

setsid dotnet Redswitch.Server/bin/Release/net10.0/Redswitch.Server.dll &
server=$!
pids+=("$server")
wait "$server" || true
