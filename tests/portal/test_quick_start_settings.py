"""The README's `.venv/bin/python manage.py ...` examples work in the checkout after `make run`
with no environment variables (the quick start's key, on the quick start's SQLite), while a
deployment without SECRET_KEY still refuses to start (portal/settings.py). Each case runs in
a subprocess on a copy of the checkout, so the copy's own `.secret_key` and `db.sqlite3` are
the ones the settings find."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFUSAL = "SECRET_KEY must be set when DEBUG is false"


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of what manage.py needs, without the test run's key or database."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy(ROOT / "manage.py", copy)
    for folder in ("portal", "licensing", "templates", "locale", "static"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def manage(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py <args>` in the copy, with nothing of the settings' environment but
    ``env`` (the test run sets DATABASE_URL, DJANGO_SETTINGS_MODULE and more)."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=checkout,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_manage_py_works_without_debug_on_the_quick_start_after_make_run(checkout):
    # `make run` with DEBUG=1 makes the checkout's key (and migrates, as here).
    made = manage(checkout, "migrate", "--noinput", "-v0", DEBUG="1")
    assert made.returncode == 0, made.stderr
    key = (checkout / ".secret_key").read_text().strip()
    assert len(key) >= 50

    # Then the README's commands, as written: no DEBUG, no SECRET_KEY, no DATABASE_URL.
    result = manage(checkout, "check_consistency")
    assert result.returncode == 0, result.stderr
    assert "consistency: ok" in result.stdout
    shown = manage(
        checkout,
        "shell",
        "-v0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECRET_KEY == open('.secret_key').read().strip(), "
        "s.DATABASES['default']['NAME'])",
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["False", "True", str(checkout / "db.sqlite3")]


def test_without_debug_a_checkout_that_never_ran_the_quick_start_still_refuses(checkout):
    result = manage(checkout, "check")
    assert result.returncode != 0
    assert REFUSAL in result.stderr
    assert not (checkout / ".secret_key").exists()  # nothing made without DEBUG


@pytest.mark.parametrize("debug", [None, "false", "0"])
def test_a_deployment_without_secret_key_still_refuses_even_beside_a_quick_start_key(
    checkout, debug
):
    (checkout / ".secret_key").write_text("the-quick-start-key-" + "x" * 40 + "\n")
    env = {"DATABASE_URL": "postgres://portal:secret@db.example.com:5432/portal"}
    if debug is not None:
        env["DEBUG"] = debug
    result = manage(checkout, "check", **env)
    assert result.returncode != 0
    assert REFUSAL in result.stderr


def test_a_named_sqlite_database_is_no_quick_start_either(checkout):
    (checkout / ".secret_key").write_text("the-quick-start-key-" + "x" * 40 + "\n")
    result = manage(checkout, "check", DATABASE_URL=f"sqlite:///{checkout / 'other.sqlite3'}")
    assert result.returncode != 0
    assert REFUSAL in result.stderr
