"""Settings from the environment (PROTOCOL.md section 6), the ``collab.W001`` check, and ``seed_demo``.

Settings are read once per process, so each case imports ``project.settings``
in a fresh interpreter with exactly the environment under test::

    settings_with({"REDIS_URL": "redis://127.0.0.1:6379/3"})["CHANNEL_LAYERS"]
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from collab.management.commands.seed_demo import WELCOME
from collab.models import Document, Snapshot

ROOT = Path(__file__).resolve().parent.parent
ENV_NAMES = (
    "DATABASE_URL", "REDIS_URL", "DJANGO_DEBUG", "DJANGO_ALLOWED_HOSTS", "DJANGO_SECRET_KEY",
    "DJANGO_SETTINGS_MODULE", "DATABASE_CONN_MAX_AGE",
)  # fmt: skip

DUMP = """
import json
import project.settings as s
print(json.dumps({
    "DATABASES": s.DATABASES, "CHANNEL_LAYERS": s.CHANNEL_LAYERS, "CACHES": s.CACHES,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS, "DEBUG": s.DEBUG, "SECRET_KEY": s.SECRET_KEY,
    "BASE_DIR": str(s.BASE_DIR),
}, default=str))
"""


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any setting under test, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def settings_with(**env: str) -> dict[str, Any]:
    out = run([sys.executable, "-c", DUMP], clean_env(**env))
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(
        [sys.executable, "manage.py", *args], clean_env(DJANGO_SETTINGS_MODULE="project.settings", **env)
    )


# --- settings from the environment ---------------------------------------------------------------


def test_defaults_are_sqlite_in_wal_mode_and_in_memory_services() -> None:
    s = settings_with()
    db = s["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(db["NAME"]) == Path(s["BASE_DIR"]) / "db.sqlite3"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] > 0
    assert s["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert s["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert s["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert s["DEBUG"] is False
    assert s["SECRET_KEY"]


def test_database_url_selects_postgresql() -> None:
    s = settings_with(DATABASE_URL="postgres://collab:s3cret@db.example.com:5433/collabdb")
    db = s["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], int(db["PORT"])) == (
        "collabdb", "collab", "s3cret", "db.example.com", 5433,
    )  # fmt: skip
    assert "init_command" not in db.get("OPTIONS", {}), "SQLite pragmas must not reach PostgreSQL"
    assert "transaction_mode" not in db.get("OPTIONS", {})


def test_a_sqlite_database_url_gets_wal_too(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    db = settings_with(DATABASE_URL=f"sqlite:///{path}")["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3" and Path(db["NAME"]) == path
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_sqlite_really_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    code = (
        "import django; django.setup(); from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
    )
    out = run(
        [sys.executable, "-c", code],
        clean_env(DATABASE_URL=f"sqlite:///{path}", DJANGO_SETTINGS_MODULE="project.settings"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "wal"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "WAL persists in the file"


def test_redis_url_selects_the_redis_layer_and_cache() -> None:
    s = settings_with(REDIS_URL="redis://10.0.0.5:6380/3")
    layer = s["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layer["CONFIG"]["hosts"] == ["redis://10.0.0.5:6380/3"]
    cache = s["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://10.0.0.5:6380/3"


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        ("collab.example.com", ["collab.example.com"]),
        ("a.example, b.example ,,.c.example", ["a.example", "b.example", ".c.example"]),
        ("*", ["*"]),
    ],
)
def test_allowed_hosts_from_the_environment(raw: str, hosts: list[str]) -> None:
    assert settings_with(DJANGO_ALLOWED_HOSTS=raw)["ALLOWED_HOSTS"] == hosts


@pytest.mark.parametrize(
    ("raw", "debug"),
    [("1", True), ("true", True), ("True", True), ("yes", True), ("on", True),
     ("0", False), ("false", False), ("no", False), ("", False)],
)  # fmt: skip
def test_debug_from_the_environment(raw: str, debug: bool) -> None:
    assert settings_with(DJANGO_DEBUG=raw)["DEBUG"] is debug


def test_secret_key_from_the_environment() -> None:
    assert settings_with(DJANGO_SECRET_KEY="k" * 50)["SECRET_KEY"] == "k" * 50


# --- collab.W001: only where it matters ------------------------------------------------------------


def check_output(tmp_path: Path, *args: str, **env: str) -> str:
    out = manage(*args, DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}", **env)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def w001_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "collab.W001" in line]


def test_deploy_check_warns_about_the_in_memory_layer_in_production(tmp_path: Path) -> None:
    output = check_output(tmp_path, "check", "--deploy", DJANGO_DEBUG="0")
    assert "collab.W001" in output
    assert "REDIS_URL" in output, "the hint says what to do"


def test_deploy_check_is_quiet_with_redis_or_in_debug(tmp_path: Path) -> None:
    with_redis = check_output(
        tmp_path, "check", "--deploy", DJANGO_DEBUG="0", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert "collab.W001" not in with_redis
    assert "collab.W001" not in check_output(tmp_path, "check", "--deploy", DJANGO_DEBUG="1")


def test_management_commands_run_by_hand_do_not_warn(tmp_path: Path) -> None:
    for args in (
        ("check",),
        ("migrate", "--noinput"),
        ("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com"),
        ("seed_demo",),
    ):
        output = check_output(tmp_path, *args, DJANGO_DEBUG="0", DJANGO_SUPERUSER_PASSWORD="a-long-pw-1")
        assert w001_lines(output) == [], (args, output)


SERVE = "import project.asgi"  # what daphne, uvicorn and runserver do as they start


def test_a_server_process_warns_once_in_one_line_what_to_do() -> None:
    out = run([sys.executable, "-c", SERVE], clean_env(DJANGO_DEBUG="0"))
    assert out.returncode == 0, out.stderr
    (line,) = w001_lines(out.stdout + out.stderr)
    assert "in-memory channel layer" in line and "Set REDIS_URL" in line, line
    for env in ({"DJANGO_DEBUG": "1"}, {"DJANGO_DEBUG": "0", "REDIS_URL": "redis://127.0.0.1:6379/0"}):
        out = run([sys.executable, "-c", SERVE], clean_env(**env))
        assert out.returncode == 0, out.stderr
        assert w001_lines(out.stdout + out.stderr) == [], env


@pytest.mark.live
@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_daphne_and_uvicorn_log_w001_at_start(tmp_path: Path, server: str) -> None:
    from tests.support.live import LiveServer

    live = LiveServer(tmp_path, server=server, env={"DJANGO_DEBUG": "0"}).start()
    try:
        status, _ = live.request("GET", "/api/schema/")
        assert status == 200
    finally:
        live.stop()
    assert len(w001_lines(live.log())) == 1, live.log()


def test_check_function_directly(settings: Any) -> None:
    from collab.checks import in_memory_layer_check

    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert [w.id for w in in_memory_layer_check()] == ["collab.W001"]
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    assert in_memory_layer_check() == []
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.DEBUG = True
    assert in_memory_layer_check() == []


# --- seed_demo -------------------------------------------------------------------------------------


@pytest.fixture
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def signs_in_to_the_admin(username: str, password: str) -> bool:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"}
    )
    return response.status_code == 302 and client.get("/admin/collab/document/").status_code == 200


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_editor_url(settings: Any, fast_passwords: None) -> None:
    settings.DEBUG = True  # as under make run
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)
    assert User.objects.filter(username="demo").count() == 1
    assert Document.objects.count() == 1
    user = User.objects.get(username="demo")
    doc = Document.objects.get()
    assert (doc.owner, doc.title, doc.public_role, doc.content, doc.version) == (
        user, "Demo document", "editor", WELCOME, 0,
    )  # fmt: skip
    assert Snapshot.objects.get(document=doc, version=0).content == WELCOME
    editor_url = f"http://127.0.0.1:8000/documents/{doc.pk}/"
    token = Token.objects.get(user=user).key
    for output in (first.getvalue(), second.getvalue()):
        assert editor_url in output
        assert token in output
        # every run says what is true: the password is still demo-password, and the admin opens with it
        assert "Sign in as:    demo / demo-password\n" in output
        assert "Admin:         http://127.0.0.1:8000/admin/\n" in output
    assert user.check_password("demo-password")
    # the printed editor page exists and is open to anyone (the document is public)
    assert Client().get(f"/documents/{doc.pk}/").status_code == 200


@pytest.mark.django_db
def test_the_development_demo_account_opens_the_admin(settings: Any, fast_passwords: None) -> None:
    settings.DEBUG = True
    User.objects.create_user("demo", password="demo-password")  # seeded before demo was staff
    call_command("seed_demo", stdout=StringIO())
    user = User.objects.get(username="demo")
    assert user.is_staff and user.is_superuser
    assert signs_in_to_the_admin("demo", "demo-password")


@pytest.mark.django_db
def test_with_debug_off_the_demo_account_is_not_staff(settings: Any, fast_passwords: None) -> None:
    settings.DEBUG = False
    out = StringIO()
    call_command("seed_demo", stdout=out)
    user = User.objects.get(username="demo")
    assert not user.is_staff and not user.is_superuser
    assert not signs_in_to_the_admin("demo", "demo-password")
    assert "(DEBUG is off: demo is not staff)" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_keeps_a_changed_password_and_says_so(settings: Any, fast_passwords: None) -> None:
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    user = User.objects.get(username="demo")
    user.set_password("changed")
    user.save()
    out = StringIO()
    call_command("seed_demo", "--base-url", "https://collab.example.com/", stdout=out)
    user.refresh_from_db()
    assert user.check_password("changed")
    doc = Document.objects.get()
    assert f"https://collab.example.com/documents/{doc.pk}/" in out.getvalue()
    assert "demo-password" not in out.getvalue(), "a password that no longer works is not printed"
    assert "Sign in as:    demo (the password was changed; reset it: manage.py changepassword demo)" in (
        out.getvalue()
    )
    call_command("seed_demo", "--username", "guide", "--password", "pw-guide-1", stdout=StringIO())
    assert Document.objects.count() == 2
    assert User.objects.get(username="guide").check_password("pw-guide-1")


def test_nothing_in_production_settings_creates_the_demo_account(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    assert manage("migrate", "--noinput", "-v", "0", DATABASE_URL=database, DJANGO_DEBUG="0").returncode == 0
    out = run([sys.executable, "-c", SERVE], clean_env(DATABASE_URL=database, DJANGO_DEBUG="0"))
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(tmp_path / "prod.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM auth_user").fetchone() == (0,)


def test_seed_demo_from_the_command_line_as_make_run_calls_it(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'seed.sqlite3'}"
    env = {"DATABASE_URL": database, "DJANGO_DEBUG": "1"}  # make run exports DJANGO_DEBUG=1
    assert manage("migrate", "--noinput", "-v", "0", **env).returncode == 0
    outputs = [manage("seed_demo", **env) for _ in range(2)]
    for out in outputs:
        assert out.returncode == 0, out.stderr
        assert "/documents/" in out.stdout
        assert "Sign in as:    demo / demo-password" in out.stdout
    with sqlite3.connect(tmp_path / "seed.sqlite3") as conn:
        rows = conn.execute("SELECT is_staff, is_superuser FROM auth_user WHERE username = 'demo'").fetchall()
        assert rows == [(1, 1)]
        ((doc_id,),) = conn.execute("SELECT id FROM collab_document").fetchall()
    doc_uuid = str(uuid.UUID(str(doc_id)))
    for out in outputs:
        assert f"http://127.0.0.1:8000/documents/{doc_uuid}/" in out.stdout
    assert "DJANGO_DEBUG ?= 1" in (ROOT / "Makefile").read_text(), "make run is development"
