#!/usr/bin/env bash
# Sets up what the tests need on a fresh Debian machine, then runs them:
# lint and types, the whole suite on SQLite, then the database tests again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "== $(date +%T) $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive

# Debian's Chromium is the browser publisher in the interop tests.
if ! command -v chromium >/dev/null; then
  step "installing chromium (apt)"
  timeout 900 as_root apt-get update -q </dev/null
  timeout 1500 as_root apt-get install -y -q chromium </dev/null
fi

# PostgreSQL and Redis run on this kind of machine; start them if they are down.
# They must outlive this run, so they are started without the CI marker in their environment.
pg_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; }
redis_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', 6379), 2).close()" 2>/dev/null; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  step "starting PostgreSQL"
  env -u TELERECORD_CI_MARK timeout 60 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start </dev/null >/dev/null 2>&1 || true
fi
if ! redis_up && command -v redis-server >/dev/null; then
  step "starting Redis"
  env -u TELERECORD_CI_MARK redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/telerecord-redis.log </dev/null >/dev/null 2>&1 || true
fi

step "python environment"
[ -x .venv/bin/python ] || python3 -m venv .venv
timeout 1200 .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' </dev/null

step "ruff and mypy"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy

step "tests on SQLite"
timeout -k 30 2400 .venv/bin/pytest -p no:cacheprovider -q --durations=15 </dev/null

if pg_up; then
  step "database tests on PostgreSQL"
  TELERECORD_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \
    timeout -k 30 1200 .venv/bin/pytest -p no:cacheprovider -q -m "not nopg and not slow" </dev/null
else
  step "PostgreSQL is not reachable on 127.0.0.1:5432: its pass was NOT run"
fi
step "done"
