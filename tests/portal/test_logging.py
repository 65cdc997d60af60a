"""F10: outside debug a 500 is logged to stderr with the request's id (portal/requestid.py),
and the response names that id in ``X-Request-ID``."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.urls import path

import portal.urls

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("the unexpected happened")


urlpatterns = [path("boom/", boom), *portal.urls.urlpatterns]
handler500 = portal.urls.handler500


@pytest.fixture
def failing(client, settings):
    assert settings.DEBUG is False  # the production settings (tests/settings.py)
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    return client


def test_an_unhandled_exception_is_logged_to_stderr_with_the_request_id(failing, capsys):
    capsys.readouterr()
    reply = failing.get("/boom/", HTTP_X_REQUEST_ID="edge-7f3a9c21")
    assert reply.status_code == 500
    assert reply["X-Request-ID"] == "edge-7f3a9c21"
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if "Internal Server Error: /boom/" in x]
    assert "ERROR" in line and "request_id=edge-7f3a9c21" in line
    assert "RuntimeError: the unexpected happened" in err  # with its traceback


@pytest.mark.parametrize(
    "sent",
    [None, "", "x" * 129, "has space", "new\tline", "<script>", "a;b"],
    ids=["none", "empty", "too long", "space", "tab", "markup", "semicolon"],
)
def test_a_request_without_a_safe_id_gets_a_new_one(failing, capsys, sent):
    headers = {} if sent is None else {"HTTP_X_REQUEST_ID": sent}
    reply = failing.get("/boom/", **headers)
    made = reply["X-Request-ID"]
    assert uuid.UUID(made).version == 4
    assert f"request_id={made}" in capsys.readouterr().err


def test_every_response_names_its_request_id(client):
    first, second = client.get("/accounts/login/"), client.get("/accounts/login/")
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="abc")["X-Request-ID"] == "abc"


def test_a_record_outside_a_request_says_so(capsys):
    logging.getLogger("portal").error("no request here")
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "no request here" in x]
    assert "request_id=-" in line
