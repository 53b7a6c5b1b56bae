#!/usr/bin/env bash
# Two daphne processes (ports 8001 and 8002) sharing PostgreSQL and Redis: the scale-out path.
# DATABASE_URL and REDIS_URL default to the local services; the database is created if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/collab}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
BIN=.venv/bin
"$BIN/python" - <<'PY'
import os, psycopg
url = os.environ["DATABASE_URL"]
base, name = url.rsplit("/", 1)
with psycopg.connect(base + "/postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
PY
"$BIN/python" manage.py migrate --noinput -v 0
"$BIN/python" manage.py seed_demo --base-url http://127.0.0.1:8001
echo "Process 1: http://127.0.0.1:8001/   Process 2: http://127.0.0.1:8002/   (Ctrl-C stops both)"
trap 'kill 0' INT TERM EXIT
"$BIN/daphne" -b 127.0.0.1 -p 8001 project.asgi:application &
"$BIN/daphne" -b 127.0.0.1 -p 8002 project.asgi:application &
wait
