# Shared by the benchmark commands (scripts/bench-events, bench-oncalls, bench-incidents): sourced, not
# run. Tools, the machine line, the release binary, a private PostgreSQL, one fresh server at a time, and
# figures read from the server (RSS, commit batches). Loopback only; every wait is bounded.
#
# The sourcing script sets ROOT (the repository), BACKENDS, and optionally EXTRA_TOOLS (more commands it
# needs, as apt package names), then calls bench_tools, bench_machine, bench_binary; cleanup runs at exit.
# Environment: KLAXON_BENCH_BIN (use this binary instead of building one), KLAXON_BENCH_POSTGRES_URL (an
# existing PostgreSQL instead of a private one), KLAXON_BENCH_PGPORT, KLAXON_BENCH_LOG_LEVEL (warn).

HELPER="$ROOT/scripts/bench/klaxon_bench.py"
PY=$(command -v python3 || true)

say() { printf '\n== %s\n' "$*" >&2; }

# --- tools --------------------------------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bench_tools() {
  local missing=() tool
  for tool in curl python3 ${EXTRA_TOOLS:-}; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [[ " $BACKENDS " == *" postgres "* ]]; then
    command -v psql >/dev/null || missing+=(postgresql-client)
    if [ -z "${KLAXON_BENCH_POSTGRES_URL:-}" ] && { [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; }; then
      missing+=(postgresql)
    fi
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    PY=$(command -v python3)
  fi
}

# --- machine --------------------------------------------------------------------------------------
bench_machine() {
  say "machine"
  echo "cpus:    $(nproc)"
  echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel:  $(uname -sr)"
  echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
}

# --- binary ----------------------------------------------------------------------------------------
BIN=""
bench_binary() {
  if [ -n "${KLAXON_BENCH_BIN:-}" ]; then
    BIN=$KLAXON_BENCH_BIN
  else
    say "cargo build --release -p klaxon"
    cargo build --release -p klaxon >&2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/klaxon"
  fi
  echo "binary:  $BIN ($(du -h "$BIN" | cut -f1))"
}

# --- cleanup ------------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/klaxon-bench.XXXXXX)
SERVER_PID=""
CHILD_PIDS=()
PGDATA=""
RUNAS=()
cleanup() {
  local p
  for p in "${CHILD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$PGDATA" ]; then
    "${RUNAS[@]}" "$(pg_bin)/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGDATA"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- PostgreSQL --------------------------------------------------------------------------------------
PG_ADMIN_URL=""
start_private_pg() {
  local bin port
  bin=$(pg_bin)
  port=${KLAXON_BENCH_PGPORT:-$(free_port)}
  PGDATA=$(mktemp -d /tmp/klaxon-bench-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PGDATA"; RUNAS=(runuser -u postgres --); fi
  say "starting a private PostgreSQL on 127.0.0.1:$port"
  "${RUNAS[@]}" "$bin/initdb" -D "$PGDATA" -U klaxon --auth=trust >/dev/null
  "${RUNAS[@]}" "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w \
    -o "-p $port -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=400 -c shared_buffers=256MB" \
    start >/dev/null
  PG_ADMIN_URL="postgres://klaxon@127.0.0.1:$port/postgres"
}
use_postgres() { # the given PostgreSQL, else a private one (started once)
  if [ -n "$PG_ADMIN_URL" ]; then return 0; fi
  if [ -n "${KLAXON_BENCH_POSTGRES_URL:-}" ]; then PG_ADMIN_URL=$KLAXON_BENCH_POSTGRES_URL; else start_private_pg; fi
}
fresh_pg_database() { # prints a URL to a new, empty database
  local name="klaxon_bench_$(date +%s)_$RANDOM"
  psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $name" >/dev/null
  "$PY" -c 'import sys, urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' \
    "$PG_ADMIN_URL" "$name"
}

# --- one server ----------------------------------------------------------------------------------------
KEY=""
URL=""
DATABASE_URL="" # the server's PostgreSQL database, empty on SQLite (then the file is $WORK/data/klaxon.db)
start_server() { # $1 = backend
  local backend=$1 port
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  KEY="bench$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  rm -rf "$WORK/data"
  DATABASE_URL=""
  if [ "$backend" = postgres ]; then use_postgres; DATABASE_URL=$(fresh_pg_database); fi
  (
    export KLAXON_BOOTSTRAP_TOKEN="$KEY" KLAXON_LOG_LEVEL="${KLAXON_BENCH_LOG_LEVEL:-warn}"
    unset KLAXON_DATABASE_URL
    if [ -n "$DATABASE_URL" ]; then export KLAXON_DATABASE_URL="$DATABASE_URL"; fi
    exec "$BIN" serve --listen "127.0.0.1:$port" --data-dir "$WORK/data"
  ) >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "server did not start; log:" >&2; tail -50 "$WORK/server.log" >&2
  exit 1
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
db_query() { # one SQL query against the running server's database (read-only use); prints the rows
  if [ -n "$DATABASE_URL" ]; then
    psql "$DATABASE_URL" -XAtqc "$1"
  else
    "$PY" -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=30)
for row in db.execute(sys.argv[2]):
    print("|".join(str(v) for v in row))' "$WORK/data/klaxon.db" "$1"
  fi
}
rss_mb() { # prints "rss_mb peak_mb"
  "$PY" "$HELPER" rss "$SERVER_PID" | awk '{printf "%.1f %.1f\n", $1/1024, $2/1024}'
}
commit_figures() { # from the server's metrics: mean events per commit and mean time per commit
  curl -fsS "$URL/metrics" 2>/dev/null | awk '
    /^klaxon_events_commit_batch_size_sum / {bs=$2} /^klaxon_events_commit_batch_size_count / {bc=$2}
    /^klaxon_events_commit_seconds_sum / {cs=$2} /^klaxon_events_commit_seconds_count / {cc=$2}
    END { if (bc > 0 && cc > 0) printf "commits: %d of %.1f events, %.2f ms each", bc, bs/bc, cs/cc*1000; else printf "commits: n/a" }'
}
