"""The API with the database away mid-request: Graph's 503 envelope with Retry-After, never a
500 (portal/unavailable.py; the page and SCIM cases are in tests/portal/)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def _away(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_the_api_answers_graphs_503_envelope(graph, monkeypatch):
    call = graph()
    monkeypatch.setattr("portal.graph.views.authenticate", _away)
    reply = call("GET", "/v1.0/users")
    assert reply.status_code == 503
    assert reply["Retry-After"] == "5"
    assert reply.json()["error"]["code"] == "serviceNotAvailable"
    assert "request-id" in reply.json()["error"]["innerError"]
