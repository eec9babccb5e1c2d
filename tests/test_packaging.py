"""The package installs, runs as a module and keeps README and CI in step."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_python_m_fakepeer_prints_help():
    """`python -m fakepeer --help` works from the installed package."""
    done = subprocess.run(
        [sys.executable, "-m", "fakepeer", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "certs" in done.stdout


def test_readme_has_serve_and_test_commands():
    """README's two set-up commands exist: one serves, one tests."""
    serve, test = _readme_commands()
    assert "fakepeer serve" in serve
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    """.ci/run runs exactly the test command the README shows."""
    _, test = _readme_commands()
    assert test in (ROOT / ".ci" / "run").read_text()
