"""`python -m bench` works end to end at a tiny size (figures are not checked: no timings)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_at_a_tiny_size(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENGAGEMENT_INSTANCE")}
    args = [sys.executable, "-m", "bench", "--members", "2000", "--contributions", "8000",
            "--keep-data", str(tmp_path / "data"), "--work-dir", str(tmp_path / "work")]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: a target missed, not a crash
    assert "ERROR" not in output, output + proc.stderr[-3000:]
    summary = output.split("\nsummary\n", 1)[1].splitlines()
    names = ["import csv (2,000 m / 8,000 d)", "import peak RSS", "compute-tiers",
             "leaderboard page", "members list page", "API members list",
             "API members search (q=)", "API members of a tier", "API tiers",
             "segment page (tier >= Expert)", "segment page (>= Expert, Bayern)",
             "segment page (365-d answers >= 50)", "segment page (de + has e-mail)",
             "500 concurrent accepts (sqlite)"]
    for name in names:
        line = next((s for s in summary if s.startswith(name)), None)
        assert line is not None, f"no line for {name}:\n{output}"
        assert "baseline" in line and "target" in line
        assert re.search(r" (PASS|FAIL)( |$)", line), line
    assert "ratio" in summary[0] and " s " in summary[0]
    assert "MB" in next(s for s in summary if s.startswith("import peak RSS"))
    assert any(line.endswith("targets met") for line in summary)
    # The seat decision is checked, not only timed: the outcome is part of the line.
    accepts = next(s for s in summary if s.startswith("500 concurrent accepts (sqlite)"))
    assert "accepted 50, waitlisted 450, errors 0" in accepts and " PASS " in accepts, accepts
    assert "x GET /healthz" in accepts
    if env.get("TEST_POSTGRES_URL", "").startswith("postgres"):
        assert any(s.startswith("500 concurrent accepts (postgresql)") for s in summary), output
    else:
        assert "500 concurrent accepts (postgresql): skipped" in output
    # The generated data is kept for the next run and reused.
    again = subprocess.run(args + ["--only", "import"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=300)
    assert "reusing synthetic data" in again.stdout
    assert "compute-tiers" not in again.stdout.split("\nsummary\n", 1)[1]
