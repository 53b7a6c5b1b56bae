"""collab's API answers the same whatever the host's REST_FRAMEWORK says (its views set their own
authentication, permissions, pagination, parsers, renderers, versioning, exception handler and
schema): the API driven in a process whose settings differ in every one of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
alice = User.objects.create_user("alice", password="alice-pw")
token = Token.objects.create(user=alice).key
api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
out = {}
r = api.post("/api/documents/", {"title": "Notes", "content": "hi"}, format="json")
out["create"] = [r.status_code, r.json()]
doc = r.json()["id"]
api.post("/api/documents/", {"title": "Two"}, format="json")
r = api.get("/api/documents/")
out["list"] = [r.status_code, sorted(r.json())]
r = api.patch(f"/api/documents/{doc}/", {"content": "hi there"}, format="json")
out["patch"] = [r.status_code, r.json()["content"]]
r = APIClient().get(f"/api/documents/{doc}/")
out["anonymous"] = [r.status_code, r.json()]
r = api.get("/api/documents/00000000-0000-0000-0000-000000000000/")
out["missing"] = [r.status_code, r.json()]
r = APIClient().post("/api/auth/token/", {"username": "alice", "password": "alice-pw"}, format="json")
out["token"] = [r.status_code, r.json() == {"token": token}]
r = api.post("/api/ws-ticket/")
out["ticket"] = [r.status_code, sorted(r.json())]
r = APIClient().get("/api/schema/")
out["schema"] = [r.status_code, sorted(json.loads(r.content)["paths"])[:2]]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_the_api_ignores_the_hosts_rest_framework_settings(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.hostile_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    status, created = out["create"]
    assert status == 201 and created["content"] == "hi" and created["role"] == "owner"
    assert out["list"] == [200, ["count", "next", "previous", "results"]]  # collab's own pagination
    assert out["patch"] == [200, "hi there"]
    assert out["anonymous"][0] == 401 and set(out["anonymous"][1]) >= {"detail", "code"}
    assert out["missing"][0] == 404 and out["missing"][1]["code"] == "not_found"
    assert out["token"] == [200, True]
    assert out["ticket"] == [200, ["expires_in", "ticket"]]
    assert out["schema"] == [200, ["/api/auth/token/", "/api/documents/"]]
