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


def test_scim2_tester_finds_nothing(endpoint):
    url, token = endpoint
    out = run(str(BIN / "scim2"), "--url", url, "-h", f"Authorization: Bearer {token}", "test")
    lines = out.splitlines()
    problems = [
        lines[i + 1].strip() if i + 1 < len(lines) else line
        for i, line in enumerate(lines)
        if line.startswith(("ERROR", "CRITICAL", "FAIL"))
    ]
    assert sum(line.startswith("SUCCESS") for line in lines) >= 60, out[-3000:]
    assert problems == [], out[-3000:]


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
