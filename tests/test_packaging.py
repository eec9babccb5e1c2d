"""The package installs, runs as a module and keeps README and CI in step."""

import subprocess
import sys

from tests.readme import ROOT, two_commands


def test_python_m_fakepeer_prints_help() -> None:
    """`python -m fakepeer --help` works from the installed package."""
    done = subprocess.run(
        [sys.executable, "-m", "fakepeer", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "certs" in done.stdout


def test_readme_has_serve_and_test_commands() -> None:
    """README's two set-up commands exist: one serves, one tests."""
    serve, test = two_commands()
    assert "fakepeer serve" in serve
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """.ci/run runs exactly the test command the README shows, as a line of its own."""
    _, test = two_commands()
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
