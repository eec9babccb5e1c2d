"""Plan files: the format, its defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakepeer.errors import FakepeerError
from fakepeer.rehearse.plan import (
    DEFAULT_LISTEN,
    Plan,
    PlanError,
    PlanStep,
    find_plan,
    load_plan,
    shipped_plans,
    shipped_plans_dir,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"baseline-microsoft-2026", "expired-leaf", "options-503"}
STEP = '[[steps]]\nscenario = "expired-leaf"\nuntil_connections = 1\n'


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_plan_gets_defaults(tmp_path):
    """One step is a whole plan: the title is the file's stem, it listens on 0.0.0.0:5061."""
    plan = load_plan(write(tmp_path, STEP, "quick-check.toml"), NAMES)
    assert plan.title == "quick-check"
    assert plan.listen == (DEFAULT_LISTEN,)
    assert plan.addresses() == [("0.0.0.0", 5061)]
    assert plan.steps == (PlanStep("expired-leaf", until_connections=1),)
    assert plan.source == tmp_path / "quick-check.toml"


def test_every_key_is_read_in_order(tmp_path):
    """Steps keep their order, durations become floats, listen may be an array."""
    plan = load_plan(write(tmp_path, (
        'title = "Change 4711"\nlisten = ["127.0.0.1:0", "[::1]:5061"]\n'
        '[[steps]]\nscenario = "baseline-microsoft-2026"\nduration = 90\nnote = "before"\n'
        + STEP)), NAMES)
    assert plan.title == "Change 4711"
    assert plan.addresses() == [("127.0.0.1", 0), ("::1", 5061)]
    assert [s.scenario for s in plan.steps] == ["baseline-microsoft-2026", "expired-leaf"]
    assert plan.steps[0].duration == 90.0 and isinstance(plan.steps[0].duration, float)
    assert plan.steps[0].note == "before"
    assert plan.steps[0].rule() == "for 90 s"
    assert plan.steps[1].rule() == "until 1 judged connection"


@pytest.mark.parametrize(("text", "message"), [
    ('colour = "red"\n' + STEP, "plan.toml: colour: unknown key; allowed keys: title, listen, "
                                "steps"),
    ("title = 7\n" + STEP, "plan.toml: title: expected a string, got a number (7)"),
    ('listen = 5061\n' + STEP, "plan.toml: listen: expected HOST:PORT or an array"),
    ('listen = ["localhost"]\n' + STEP, "plan.toml: listen[0]: 'localhost' is not HOST:PORT"),
    ('listen = []\n' + STEP, "plan.toml: listen: give at least one HOST:PORT"),
    ('title = "x"\n', "plan.toml: steps: missing"),
    ('steps = []\n', "plan.toml: steps: a plan needs at least one [[steps]] table"),
    ('[steps]\nscenario = "expired-leaf"\n', "plan.toml: steps: expected an array of tables"),
    ('[[steps]]\nduration = 5\n', "plan.toml: steps[0].scenario: missing"),
    (STEP + '[[steps]]\nscenario = "expird-leaf"\nduration = 5\n',
     "plan.toml: steps[1].scenario: unknown scenario 'expird-leaf' (did you mean "
     "'expired-leaf'?); `fakepeer scenarios list` shows all 3"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = 5\nuntil_connections = 1\n',
     "plan.toml: steps[0]: give duration = SECONDS or until_connections = N (exactly one)"),
    ('[[steps]]\nscenario = "expired-leaf"\n', "steps[0]: give duration = SECONDS"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = -1\n',
     "plan.toml: steps[0].duration: -1 is not a number of seconds"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = true\n',
     "steps[0].duration: expected a number of seconds, got a boolean (true)"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = "90s"\n',
     "steps[0].duration: expected a number of seconds, got a string ('90s')"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = nan\n',
     "steps[0].duration: nan is not a number of seconds"),
    ('[[steps]]\nscenario = "expired-leaf"\nuntil_connections = 1.5\n',
     "steps[0].until_connections: expected a whole number of connections, got a number"),
    ('[[steps]]\nscenario = "expired-leaf"\nuntil_connections = 0\n',
     "steps[0].until_connections: 0 is not between 1 and 1000000"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = 1\nnote = ["a"]\n',
     "steps[0].note: expected a string, got an array"),
    ('[[steps]]\nscenario = "expired-leaf"\nduration = 1\nrepeat = 3\n',
     "steps[0].repeat: unknown key; allowed keys: scenario, duration, until_connections, "
     "note"),
    ('[[steps]]\nscenario = 3\nduration = 1\n',
     "steps[0].scenario: expected a string, got a number (3)"),
    ('steps = ["expired-leaf"]\n', "steps[0]: expected a table, got a string"),
    ('title = "unterminated\n' + STEP, "plan.toml: line 1, column 22: TOML syntax error: "),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, message):
    """A bad value is a PlanError that names the file, the key path and what is allowed."""
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, text), NAMES)
    assert str(caught.value).startswith(str(tmp_path) + "/")
    assert message in str(caught.value)


def test_plan_errors_are_fakepeer_errors(tmp_path):
    """The command line turns PlanError into one line and exit 1, like every FakepeerError."""
    assert issubclass(PlanError, FakepeerError)


def test_a_missing_or_binary_file_is_a_plan_error(tmp_path):
    """Unreadable and non-UTF-8 files are reported with their path, not as a traceback."""
    with pytest.raises(PlanError, match=r"missing\.toml: cannot read"):
        load_plan(tmp_path / "missing.toml", NAMES)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"title = \"\xff\"\n")
    with pytest.raises(PlanError, match=r"binary\.toml: not UTF-8 text"):
        load_plan(binary, NAMES)


def test_values_validate_themselves_when_built():
    """A Plan or PlanStep that would be invalid cannot be constructed."""
    with pytest.raises(PlanError, match="steps: a plan needs at least one"):
        Plan("t", ())
    with pytest.raises(PlanError, match="exactly one"):
        PlanStep("expired-leaf")


def test_shipped_plans_load_against_the_shipped_catalogue(catalogue):
    """Every plan in plans/ is valid and names only catalogue scenarios."""
    plans = shipped_plans()
    assert "migration-2026" in plans
    assert shipped_plans_dir() == ROOT / "plans"
    for path in plans.values():
        plan = load_plan(path, catalogue)
        assert plan.title and plan.steps


def test_find_plan_takes_a_path_or_a_shipped_name(tmp_path):
    """PLAN is a file (relative to the working folder) or the name of a shipped plan."""
    mine = write(tmp_path, STEP, "mine.toml")
    assert find_plan("mine.toml", tmp_path) == mine
    assert find_plan(str(mine), Path("/")) == mine
    assert find_plan("migration-2026", tmp_path) == ROOT / "plans" / "migration-2026.toml"
    with pytest.raises(PlanError, match=r"nope: no such plan file \(shipped plans: .*"
                                        r"migration-2026"):
        find_plan("nope", tmp_path)


def test_an_installed_wheel_finds_its_plans_beside_the_package(tmp_path):
    """In a wheel the plans live in fakepeer/_plans (pyproject's force-include)."""
    package = tmp_path / "site" / "fakepeer"
    (package / "_plans").mkdir(parents=True)
    write(package / "_plans", STEP, "lab.toml")
    assert shipped_plans_dir(package) == package / "_plans"
    assert list(shipped_plans(package)) == ["lab"]
    assert shipped_plans_dir(tmp_path / "nowhere" / "fakepeer") is None
