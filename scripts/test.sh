#!/usr/bin/env bash
# The whole suite: everything on SQLite (live servers, browsers, Redis and PostgreSQL
# scale-out tests included), then the database-concurrency tests again with PostgreSQL
# as the test database. Extra arguments go to both pytest runs.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0

echo "== pass 1: the whole suite (SQLite test database)"
"$BIN/python" -m pytest "$@" || status=$?

PG_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if "$BIN/python" -c "import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$PG_URL" 2>/dev/null; then
  echo "== pass 2: database concurrency tests on PostgreSQL ($PG_URL)"
  DATABASE_URL="$PG_URL" "$BIN/python" -m pytest -m "postgres and not live" "$@" || status=$?
elif [ "${CI:-}" = "true" ]; then
  echo "FATAL: PostgreSQL does not answer at $PG_URL; under CI the PostgreSQL pass must run" >&2
  status=1
else
  echo "== pass 2 skipped: PostgreSQL does not answer at $PG_URL (set TEST_POSTGRES_URL)"
fi
exit $status
