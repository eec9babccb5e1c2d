"""The package installs, runs as a module and keeps README and CI in step."""

import subprocess
import sys

from tests.readme import ROOT, two_commands


def test_python_m_fakepeer_prints_help():
    """`python -m fakepeer --help` works from the installed package."""
    done = subprocess.run(
        [sys.executable, "-m", "fakepeer", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "certs" in done.stdout


def test_readme_has_serve_and_test_commands():
    """README's two set-up commands exist: one serves, one tests."""
    serve, test = two_commands()
    assert "fakepeer serve" in serve
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    """.ci/run runs exactly the test command the README shows."""
    _, test = two_commands()
    assert test in (ROOT / ".ci" / "run").read_text()
