"""docs/exit-status.md stays true (issue 12 item 12: "probe's exit statuses are not
documented"): the statuses each command can return are read from the code with ``ast``
(every ``ExitStatus.NAME`` in the command's module, plus those ``cli/main.py`` returns for
every command), and must be exactly the ones its section lists, with the right numbers."""

from __future__ import annotations

import argparse
import ast
import io
import re
from pathlib import Path

import pytest

from fakepeer.cli.environment import Environment
from fakepeer.cli.main import _command_modules, build_parser, main
from fakepeer.cli.status import ExitStatus

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "exit-status.md"
PACKAGE = ROOT / "fakepeer"
MAIN = PACKAGE / "cli" / "main.py"
COMMON = ""  # the section before the first command: the table of every status

_HEADING = re.compile(r"^## `fakepeer (?P<command>[a-z-]+)`$")
_ROW = re.compile(r"^\| (?P<status>\d+) \| (?P<name>[A-Z_]+) \| .+ \|$")


def documented() -> dict[str, dict[str, int]]:
    """Each section's rows (name -> status); the first table under ``COMMON``."""
    sections: dict[str, dict[str, int]] = {COMMON: {}}
    current = COMMON
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = _HEADING.match(line)
        if heading is not None:
            current = heading["command"]
            assert current not in sections, f"two sections for {current}"
            sections[current] = {}
        elif (row := _ROW.match(line)) is not None:
            assert row["name"] not in sections[current], f"{current}: {row['name']} twice"
            sections[current][row["name"]] = int(row["status"])
    return sections


def referenced(path: Path) -> set[str]:
    """The ``ExitStatus.NAME`` attributes a module's source names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "ExitStatus"}


def command_sources() -> dict[str, Path]:
    """Each top-level command and the module that registers (and runs) it."""
    sources: dict[str, Path] = {}
    for module in _command_modules():
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub)
        for name in sub.choices:
            sources[name] = Path(module.__file__ or "")
    return sources


def test_the_first_table_is_exit_status_itself():
    """Every ExitStatus member with its number, nothing else."""
    assert documented()[COMMON] == {status.name: status.value for status in ExitStatus}


def test_every_command_has_a_section_and_every_section_a_command():
    commands = {name for action in build_parser()._actions
                if isinstance(action, argparse._SubParsersAction) for name in action.choices}
    assert set(command_sources()) == commands
    assert set(documented()) - {COMMON} == commands


@pytest.mark.parametrize("command", sorted(command_sources()))
def test_a_command_documents_exactly_the_statuses_it_can_return(command):
    """Its module's statuses and main()'s (usage, error, Ctrl-C, success) are its rows."""
    can_return = referenced(command_sources()[command]) | referenced(MAIN)
    rows = documented()[command]
    assert set(rows) == can_return, (f"{command}: documented {sorted(rows)}, "
                                     f"code {sorted(can_return)}")
    assert rows == {name: ExitStatus[name].value for name in can_return}


def test_only_the_commands_and_main_choose_a_status():
    """A status chosen anywhere else would escape the check above."""
    allowed = {MAIN, *command_sources().values()}
    choosing = {path for path in PACKAGE.rglob("*.py") if referenced(path)}
    assert choosing <= allowed, sorted(str(p) for p in choosing - allowed)


@pytest.mark.parametrize("command", sorted(command_sources()))
def test_usage_is_2_and_help_is_0_for_every_command(command, capsys, tmp_path):
    """What the common rows promise, run: argparse's statuses come through main()."""
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO(), variables={}, cwd=tmp_path)
    assert main([command, "--no-such-option"], env=env) == ExitStatus.USAGE
    assert "usage: fakepeer" in capsys.readouterr().err
    assert main([command, "--help"], env=env) == ExitStatus.SUCCESS
    assert f"usage: fakepeer {command}" in capsys.readouterr().out
