"""`fakepeer rehearse` in-process where it runs no reactor: --check, bad plans and options."""

from __future__ import annotations

import io
from pathlib import Path

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from fakepeer.cli.status import ExitStatus

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))


def run(cwd: Path, *argv: str) -> tuple[ExitStatus, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={}, cwd=cwd)
    status = main(["rehearse", *argv], env=env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def test_check_builds_every_step_and_does_not_listen(tmp_path, session_store):
    """--check on the shipped plan lists its steps with their expectations and exits 0."""
    status, out, err = run(tmp_path, "migration-2026", "--check", "--certs",
                           str(session_store))
    assert status == ExitStatus.SUCCESS, err
    assert out.startswith("Rehearsal: Teams Direct Routing: 2026 PKI migration rehearsal "
                          "(5 steps) on 0.0.0.0:5061")
    assert "  5. expired-leaf: until 1 judged connection; expect SBC rejects " \
           "(certificate_expired)" in out
    assert out.rstrip().endswith("(--check: not listening).")


def test_a_user_scenario_folder_is_usable_in_a_plan(tmp_path, session_store):
    """Steps may name scenarios from --scenarios folders; --listen replaces the plan's."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "quick-flip.toml").write_text('era = "microsoft-2020"\n')
    (tmp_path / "p.toml").write_text('[[steps]]\nscenario = "quick-flip"\nduration = 5\n')
    status, out, err = run(tmp_path, "p.toml", "--check", "--scenarios", str(mine),
                           "--certs", str(session_store), "--listen", "127.0.0.1:5099")
    assert status == ExitStatus.SUCCESS, err
    assert "on 127.0.0.1:5099" in out and "1. quick-flip: for 5 s" in out


def test_a_bad_plan_is_one_line_naming_file_and_key(tmp_path):
    """An unknown scenario in a plan ends with exit 1 and the file, key and a suggestion."""
    (tmp_path / "p.toml").write_text('[[steps]]\nscenario = "expired-leef"\nduration = 5\n')
    status, _, err = run(tmp_path, "p.toml")
    assert status == ExitStatus.ERROR
    assert err.strip() == (f"fakepeer: error: {tmp_path / 'p.toml'}: steps[0].scenario: "
                           "unknown scenario 'expired-leef' (did you mean 'expired-leaf'?); "
                           f"`fakepeer scenarios list` shows all {len(SHIPPED)}")


def test_bad_listen_and_output_folder_fail_before_listening(tmp_path, session_store):
    """--listen without a port, or a report folder that does not exist, fail at once."""
    (tmp_path / "p.toml").write_text('[[steps]]\nscenario = "expired-leaf"\nduration = 5\n')
    status, _, err = run(tmp_path, "p.toml", "--listen", "localhost")
    assert status == ExitStatus.ERROR and "expected HOST:PORT" in err
    status, _, err = run(tmp_path, "p.toml", "--certs", str(session_store),
                         "--html-out", "missing/report.html")
    assert status == ExitStatus.ERROR
    assert "folder" in err and "missing" in err and "does not exist" in err


def test_a_missing_plan_names_the_shipped_ones(tmp_path):
    """A PLAN that is neither a file nor a shipped plan says which plans ship."""
    status, _, err = run(tmp_path, "nope.toml")
    assert status == ExitStatus.ERROR
    assert "nope.toml: no such plan file (shipped plans: migration-2026, " in err
