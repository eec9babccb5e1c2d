"""The ``fakepeer`` command line: a table of subcommands, one module each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from fakepeer import __version__
from fakepeer.cli.environment import Environment
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import FakepeerError

Runner = Callable[[argparse.Namespace, Environment], ExitStatus]


def _command_modules() -> list[ModuleType]:
    # Imported lazily so that `fakepeer --help` stays fast and one broken command
    # cannot stop the others from loading.
    from fakepeer.cli.commands import certs, healthcheck, probe, rehearse, scenarios, serve

    return [serve, probe, certs, scenarios, rehearse, healthcheck]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakepeer",
        description=(
            "Lab stand-in for the Teams Direct Routing and Genesys BYOC SIP/TLS peers. "
            "Every CA it makes is throwaway and marked as such; it never places a call."
        ),
    )
    parser.add_argument("--version", action="version", version=f"fakepeer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> ExitStatus:
    """Run one command; return its exit status instead of exiting (tests call this)."""
    env = env or Environment()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help/--version and on usage errors
        return ExitStatus(exc.code if isinstance(exc.code, int) else ExitStatus.USAGE)
    runner: Runner = args.runner
    try:
        return runner(args, env)
    except FakepeerError as exc:
        env.warn(f"fakepeer: error: {exc}")
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        return ExitStatus.ERROR_CTRL_C


def entry_point() -> None:
    try:
        status = main()
    except BrokenPipeError:  # `fakepeer certs list | head` closed our stdout: not an error
        sys.stderr.close()
        status = ExitStatus.SUCCESS
    sys.exit(int(status))
