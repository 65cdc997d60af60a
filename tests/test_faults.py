"""The quick version of `make faults` (docs/operations.md): one fault of each kind injected
into a running portal on a throwaway PostgreSQL cluster of its own (it restarts it), 20,000
members. It fails, never skips, when PostgreSQL cannot be had."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_every_fault_is_survived_with_nothing_lost():
    done = subprocess.run(
        [str(ROOT / "scripts/with-postgres"), sys.executable, "scripts/faults.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = done.stdout + done.stderr
    figures = dict(re.findall(r"^(faults_\w+|changes_lost|inconsistent): (\S+)$", out, re.M))
    assert done.returncode == 0, out[-4000:]
    assert int(figures["faults_injected"]) == 7, figures
    assert figures["faults_survived"] == figures["faults_injected"], figures
    assert figures["changes_lost"] == "0" and figures["inconsistent"] == "0", figures
