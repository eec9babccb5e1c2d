"""Broken scenario and plan files: one line naming the file, the problem and the fix.

Issue 12 items 10 and 12: a file nested 5,000 deep ended in tomllib's RecursionError
(naming no file), a UTF-8 byte-order mark in "line 1 column 1: Invalid statement", and
one broken file in a scenarios folder blocked every scenario in it. Each case here goes
through the loader and through the command line in-process, the unreadable file through
a real process without root's file capabilities.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import main
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ScenarioError
from fakepeer.rehearse.plan import PlanError, load_plan
from fakepeer.scenario.load import load_catalogue, load_scenario, scenario_dirs
from fakepeer.scenario.toml_file import MAX_TOML_BYTES
from tests.pki.sandbox import as_ordinary_user, fakepeer, one_line_error, run

DEEP = 5000
PLAN = '[[steps]]\nscenario = "expired-leaf"\nduration = 1\n'


def _cli(cwd: Path, *argv: str) -> tuple[ExitStatus, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={}, cwd=cwd)
    status = main(list(argv), env=env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


#: name -> (file content or a maker, what the error says). Each is a scenario file.
def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _sparse(path: Path) -> None:
    with path.open("wb") as stream:  # 4 GiB that take no disk: refused by size, unread
        stream.truncate(4 << 30)


BROKEN = {
    "nested-arrays": (b"x = " + b"[" * DEEP + b"]" * DEEP + b"\n", "nested too deeply"),
    "nested-inline-tables": (b"x = " + b"{a=" * DEEP + b"1" + b"}" * DEEP + b"\n",
                             "nested too deeply"),
    "latin-1": ('description = "ok"\ndescription2 = "caf\xe9"\n'.encode("latin-1"),
                "not UTF-8 text (byte 38) on line 2; TOML files are UTF-8: save it as UTF-8"),
    "too-big": (b"# " + b"x" * MAX_TOML_BYTES + b"\n", "is more than a scenario file may be"),
    "sparse-4-gib": (_sparse, f"4294967296 bytes is more than a scenario file may be "
                              f"({MAX_TOML_BYTES} bytes); is this the right file?"),
    "fifo": (_fifo, "is a named pipe (FIFO), not a file; a scenario is a regular file"),
    "folder": (_folder, "is a folder, not a file; a scenario is a regular file"),
}


def _make(folder: Path, name: str) -> Path:
    content, _ = BROKEN[name]
    path = folder / f"{name}.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        content(path)
    return path


def _bounded(call, seconds: float = 10.0):
    """Run ``call`` in a thread and fail (instead of hanging) if it does not return."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(_catch(call)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still reading after {seconds} s"
    return result[0]


def _catch(call):
    try:
        return call()
    except Exception as exc:
        return exc


@pytest.mark.parametrize("name", list(BROKEN))
def test_the_loader_names_the_file_and_the_problem(tmp_path, name):
    """load_scenario raises one ScenarioError line starting with the file, quickly."""
    path = _make(tmp_path, name)
    started = time.monotonic()
    error = _bounded(lambda: load_scenario(path))
    assert time.monotonic() - started < 5
    assert isinstance(error, ScenarioError), error
    message = str(error)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert BROKEN[name][1] in message


def test_one_broken_file_per_kind_does_not_block_the_folder(tmp_path):
    """A folder with every kind of broken file still loads its good scenario; each broken
    one is an entry of its own, and naming it gives its error (exit 1 on the command
    line), while listing reports one warning line per file and succeeds."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in BROKEN:
        _make(folder, name)
    (folder / "good.toml").write_text('era = "microsoft-2023"\n')
    catalogue = _bounded(lambda: load_catalogue(scenario_dirs([folder])))
    assert catalogue["good"].era == "microsoft-2023"
    assert "baseline-microsoft-2026" in catalogue
    assert sorted(catalogue.broken) == sorted(BROKEN)
    status, out, err = _cli(tmp_path, "scenarios", "list", "--scenarios", "mine")
    assert status == ExitStatus.SUCCESS, err
    assert "\ngood *" in out
    warnings = err.strip().splitlines()
    assert len(warnings) == len(BROKEN) and "Traceback" not in err
    for name in BROKEN:
        assert any(line.startswith(f"warning: {folder / name}.toml: ") for line in warnings)
    status, _, err = _cli(tmp_path, "scenarios", "show", "fifo", "--no-chain",
                          "--scenarios", "mine")
    assert status == ExitStatus.ERROR
    assert err.strip().splitlines()[-1] == (f"fakepeer: error: {folder / 'fifo.toml'}: is a "
                                            "named pipe (FIFO), not a file; a scenario is a "
                                            "regular file ending in .toml")


def test_serve_naming_a_broken_scenario_fails_with_its_error(tmp_path):
    """`serve --scenario NAME` of a broken file stops before listening, exit 1."""
    folder = tmp_path / "mine"
    folder.mkdir()
    _make(folder, "nested-arrays")
    status, _, err = _cli(tmp_path, "serve", "--scenario", "nested-arrays", "--scenarios",
                          "mine", "--no-http", "--listen", "127.0.0.1:0",
                          "--certs", str(tmp_path / "certs"))
    assert status == ExitStatus.ERROR
    assert err.strip().splitlines()[-1].startswith(
        f"fakepeer: error: {folder / 'nested-arrays.toml'}: arrays or inline tables nested "
        "too deeply to read")


def test_serve_goes_on_past_a_broken_file_and_switching_to_it_is_refused(session_store,
                                                                         tmp_path):
    """A live `fakepeer serve` whose scenarios folder holds a broken file starts (the old
    one refused to start at all), says so on stderr once, and the HTTP switch to that
    scenario is refused with the file's error while the running one goes on."""
    from tests.serve.harness import serving_process as serving
    from tests.serve.test_http_side import _post_blocking as _post

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "lab-one.toml").write_text('era = "microsoft-2026"\n')
    broken = _make(folder, "nested-arrays")
    with serving(session_store, "--scenario", "lab-one", "--scenarios", str(folder)) as server:
        status, reply = _post(server.http_port, "/control/scenario", {"name": "nested-arrays"})
        assert status == 409, reply
        assert reply["error"].startswith(f"{broken}: arrays or inline tables nested too "
                                         "deeply to read"), reply
        status, reply = _post(server.http_port, "/control/scenario", {"name": "lab-one"})
        assert status == 200, reply
    assert not [line for line in server.stderr if "Traceback" in line], server.stderr
    assert any(line.startswith(f"warning: {broken}: arrays or inline tables nested too "
                               "deeply") for line in server.stderr), server.stderr


def test_a_user_file_that_is_broken_hides_the_shipped_one_it_meant_to_replace(tmp_path):
    """A broken override of a shipped scenario is not silently replaced by the original."""
    (tmp_path / "expired-leaf.toml").write_text("[tls\n")
    catalogue = load_catalogue(scenario_dirs([tmp_path]))
    assert "expired-leaf" not in catalogue
    with pytest.raises(ScenarioError, match=r"expired-leaf\.toml: line 1"):
        catalogue.get_scenario("expired-leaf")


def test_a_byte_order_mark_is_read_with_a_note(tmp_path):
    """A UTF-8 BOM is accepted (valid UTF-8, TOML's own tests expect it) with a note that
    says other readers may refuse it; tomllib alone would say 'Invalid statement'."""
    (tmp_path / "bom.toml").write_bytes(b'\xef\xbb\xbfera = "microsoft-2023"\n')
    catalogue = load_catalogue(scenario_dirs([tmp_path]))
    assert catalogue["bom"].era == "microsoft-2023"
    [note] = catalogue.notes
    assert note.startswith(f"{tmp_path / 'bom.toml'}: starts with a UTF-8 byte-order mark")
    status, _, err = _cli(tmp_path, "scenarios", "show", "bom", "--no-chain",
                          "--scenarios", str(tmp_path))
    assert status == ExitStatus.SUCCESS, err
    assert err == f"note: {note}\n"


def test_a_file_this_user_may_not_read(tmp_path):
    """A scenario file the user may not read: one line with the fix, listing goes on; a
    real process without root's file capabilities (the tests may run as root)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    secret = folder / "secret.toml"
    secret.write_text("")
    secret.chmod(0o000)
    (folder / "good.toml").write_text("")
    listed = run(as_ordinary_user(fakepeer("scenarios", "list", "--scenarios", str(folder))),
                 tmp_path)
    assert listed.status == ExitStatus.SUCCESS, listed.err
    assert _one_line(listed.err) == (
        f"warning: {secret}: cannot read it: permission denied; give this user read access "
        "(chmod or chown), or run fakepeer as a user who may read it (scenario 'secret' is "
        "left out until the file is fixed)")
    shown = run(as_ordinary_user(fakepeer("scenarios", "show", "secret", "--no-chain",
                                          "--scenarios", str(folder))), tmp_path)
    assert shown.status == ExitStatus.ERROR
    assert one_line_error(shown).startswith(
        f"fakepeer: error: {secret}: cannot read it: permission denied")


# --- rehearsal plans: the same rules ----------------------------------------------------


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_plan_file_is_one_line_with_exit_1(tmp_path, name):
    """`fakepeer rehearse FILE` with each broken file: exit 1, one line naming it."""
    path = _make(tmp_path, name)
    expected = BROKEN[name][1].replace("a scenario", "a rehearsal plan")
    error = _bounded(lambda: load_plan(path, {"expired-leaf"}))
    assert isinstance(error, PlanError) and expected in str(error), error
    status, _, err = _bounded(lambda: _cli(tmp_path, "rehearse", str(path), "--check"))
    assert status == ExitStatus.ERROR
    line = _one_line(err)
    assert line.startswith(f"fakepeer: error: {path}: ") and expected in line


def test_a_plan_file_this_user_may_not_read(tmp_path):
    """`fakepeer rehearse FILE` of a plan the user may not read: one line with the fix,
    exit 1 (a real process without root's file capabilities)."""
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN)
    plan.chmod(0o000)
    checked = run(as_ordinary_user(fakepeer("rehearse", str(plan), "--check")), tmp_path)
    assert checked.status == ExitStatus.ERROR
    assert one_line_error(checked) == (
        f"fakepeer: error: {plan}: cannot read it: permission denied; give this user read "
        "access (chmod or chown), or run fakepeer as a user who may read it")


def test_a_plan_naming_a_broken_scenario_fails_with_that_scenarios_error(tmp_path):
    """The plan is fine, the scenario it names is not: the error says both."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "lab.toml").write_text("era = 3\n")
    (tmp_path / "plan.toml").write_text(PLAN.replace("expired-leaf", "lab"))
    status, _, err = _cli(tmp_path, "rehearse", "plan.toml", "--check", "--scenarios", "mine")
    assert status == ExitStatus.ERROR
    assert err.strip().splitlines()[-1] == (
        f"fakepeer: error: {tmp_path / 'plan.toml'}: steps[0].scenario: scenario 'lab' "
        f"cannot be used: {tmp_path / 'mine' / 'lab.toml'}: era: expected a string, got an "
        "integer (3)")


def test_a_plan_with_a_byte_order_mark_is_read_with_a_note(tmp_path, session_store):
    (tmp_path / "plan.toml").write_bytes(b"\xef\xbb\xbf" + PLAN.encode())
    status, out, err = _cli(tmp_path, "rehearse", "plan.toml", "--check", "--certs",
                            str(session_store))
    assert status == ExitStatus.SUCCESS, err
    assert err.startswith(f"note: {tmp_path / 'plan.toml'}: starts with a UTF-8 byte-order "
                          "mark, read as if it did not")
    assert "1. expired-leaf: for 1 s" in out
