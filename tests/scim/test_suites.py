"""The independent SCIM test suites against the live test server: scim2-cli's `test`
(scim2-tester: discovery, CRUD, PATCH, filtering) and `scim-sanity probe --compat` (user and
group lifecycle, search, errors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from licensing import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent


@pytest.fixture
def endpoint(live_server, tenant):
    _token, raw = services.scim_token_issue(tenant=tenant, actor=None)
    return f"{live_server.url}/scim/v2/{tenant.public_id}/", raw


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return done.stdout + done.stderr


def test_scim2_tester_reports_every_check_a_success_and_skips_none(endpoint):
    """Every result line of ``scim2 test`` (a status, then the check's title; its reason
    indented below it) is SUCCESS: an ERROR, a SKIPPED or any other status fails, with the
    whole output in the message."""
    url, token = endpoint
    command = [str(BIN / "scim2"), "--url", url, "-h", f"Authorization: Bearer {token}", "test"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines and lines[0].startswith("Performing a SCIM compliance check"), out
    results = [line for line in lines[1:] if line.strip() and not line[0].isspace()]
    others = [line for line in results if line.split(" ", 1)[0] != "SUCCESS"]
    assert others == [], f"{len(others)} of {len(results)} checks not SUCCESS:\n{out}"
    assert len(results) >= 60, out
    assert (done.returncode, done.stderr) == (0, ""), out


def test_scim_sanity_probe_passes_everything(endpoint):
    url, token = endpoint
    out = run(
        str(BIN / "scim-sanity"),
        "probe",
        url,
        "--token",
        token,
        "--compat",
        "--i-accept-side-effects",
    )
    assert "Result: All tests passed." in out, out[-3000:]
    assert "[FAIL]" not in out and "[ERROR]" not in out, out[-3000:]
