"""The OpenAPI schema tells the truth: shapes, parameters and every status the API answers.

The fast tests pin the findings one by one (lists declared as lists, the 400s
of ``ops/?limit=0`` and ``snapshot/?version=-1`` declared, ``?page_size=null``
refused). The live test runs schemathesis against ``/api/schema/`` of a real
server with a token: no 5xx, no undocumented status, no body that violates its
schema, with a bounded number of examples (well under two minutes).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from collab import editing
from tests.support.live import LiveServer

SCHEMATHESIS_EXAMPLES = os.environ.get("COLLAB_SCHEMATHESIS_EXAMPLES", "10")
SCHEMATHESIS_SEED = os.environ.get("COLLAB_SCHEMATHESIS_SEED", "1")


def operation(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return dict(schema["paths"][path][method])


def body_schema(op: dict[str, Any], status: str) -> dict[str, Any]:
    return dict(op["responses"][status]["content"]["application/json"]["schema"])


@pytest.fixture
def schema(api: APIClient) -> dict[str, Any]:
    resp = api.get("/api/schema/")
    assert resp.status_code == 200
    return dict(resp.json())


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["members", "ops", "presence", "versions"])
def test_list_actions_are_declared_as_the_lists_they_return(
    schema: dict[str, Any], api: APIClient, alice: User, action: str
) -> None:
    doc = editing.create_document(owner=alice, title="t", content="")
    declared = body_schema(operation(schema, f"/api/documents/{{id}}/{action}/", "get"), "200")
    assert declared["type"] == "array", declared
    body = api.get(f"/api/documents/{doc.pk}/{action}/").json()
    assert isinstance(body, list), body
    params = [
        p["name"] for p in operation(schema, f"/api/documents/{{id}}/{action}/", "get").get("parameters", [])
    ]
    assert "page" not in params and "page_size" not in params


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "query", "parameter", "minimum"),
    [
        ("/api/documents/{id}/ops/", "limit=0", "limit", 1),
        ("/api/documents/{id}/ops/", "since=-1", "since", 0),
        ("/api/documents/{id}/snapshot/", "version=-2305843009213693951", "version", 0),
    ],
)
def test_refused_parameters_are_declared_with_their_bounds_and_400(
    schema: dict[str, Any], api: APIClient, alice: User, path: str, query: str, parameter: str, minimum: int
) -> None:
    doc = editing.create_document(owner=alice, title="t", content="")
    resp = api.get(path.replace("{id}", str(doc.pk)) + "?" + query)
    assert resp.status_code == 400, resp.content
    op = operation(schema, path, "get")
    declared = next(p for p in op["parameters"] if p["name"] == parameter)
    assert declared["schema"] == {"type": "integer", "minimum": minimum}
    assert set(body_schema(op, "400")["$ref"].split("/")[-1:]) == {"Error"}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["null", "0", "-3", "ten", "1.5"])
def test_page_size_that_is_not_a_positive_integer_is_refused(api: APIClient, value: str) -> None:
    resp = api.get(f"/api/documents/?page_size={value}")
    assert resp.status_code == 400, resp.content
    assert resp.json()["errors"] == {"page_size": ["page_size must be a positive integer."]}


@pytest.mark.django_db
def test_page_size_above_the_maximum_is_capped(api: APIClient, alice: User) -> None:
    for i in range(3):
        editing.create_document(owner=alice, title=f"t{i}")
    assert len(api.get("/api/documents/?page_size=1").json()["results"]) == 1
    assert len(api.get("/api/documents/?page_size=100000").json()["results"]) == 3


@pytest.mark.django_db
def test_every_operation_declares_its_errors(schema: dict[str, Any]) -> None:
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            statuses = set(op["responses"])
            assert "401" in statuses, (method, path)
            if "{id}" in path:
                assert "404" in statuses, (method, path)
            if method in ("post", "patch"):
                assert {"400", "403", "413", "415"} <= statuses, (method, path)
    assert "409" in schema["paths"]["/api/documents/{id}/ops/"]["post"]["responses"]


@pytest.mark.live
@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_disagreement(tmp_path: Path) -> None:
    live = LiveServer(tmp_path, env={"COLLAB_RATE_PER_SECOND": "100000"}).start()
    try:
        token = live.create_users("alice")["alice"]
        live.create_document(token, "public", "hello", "editor")
        command = [
            sys.executable, "-m", "schemathesis.cli", "run", f"{live.http_url}/api/schema/",
            "--checks", "not_a_server_error,status_code_conformance,response_schema_conformance",
            "--max-examples", SCHEMATHESIS_EXAMPLES, "--seed", SCHEMATHESIS_SEED,
            "--header", f"Authorization: Token {token}",
            "--workers", "1", "--no-color", "--request-timeout", "30",
        ]  # fmt: skip
        out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    finally:
        live.stop()
    report = out.stdout[-20000:] + out.stderr[-3000:]
    assert out.returncode == 0, report
    tested = re.search(r"Tested: (\d+)", report)
    assert tested and int(tested.group(1)) >= 15, report  # it reached every operation
