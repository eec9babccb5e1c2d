"""The ``fakepeer`` command line: a table of subcommands, one module each.

A command either runs to its end at once (``runner``: certs, scenarios, healthcheck) or
prepares a :class:`~fakepeer.app.runner.Job` for the reactor (``launcher``: serve, probe,
rehearse), which :func:`fakepeer.app.runner.run` then runs: the one place the reactor is
started. :func:`launch` prepares such a job without running anything, for a caller whose
reactor already runs (a test's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from fakepeer import __version__
from fakepeer.cli.environment import Environment
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import FakepeerError
from fakepeer.vocabulary import did_you_mean

if TYPE_CHECKING:
    from fakepeer.app.runner import Job
    from fakepeer.net.reactors import IRunReactor

Runner = Callable[[argparse.Namespace, Environment], ExitStatus]
#: Prepares a command's job; a command that finds nothing to run (``rehearse --check``)
#: returns its exit status instead.
Launcher = Callable[[argparse.Namespace, Environment, "IRunReactor"], "Job | ExitStatus"]


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


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None
                    ) -> argparse.Namespace:
    """``parser.parse_args``, except that an option the command does not know is refused
    by that command's own parser: its usage, and the option it is close to (argparse
    would print the top-level usage, which does not list the command's options)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        command = _chosen_parser(parser, args)
        unknown = next((e for e in extras if e.startswith("-")), extras[0])
        known = [o for a in command._actions for o in a.option_strings]
        option = unknown.split("=", 1)[0]
        if option in _ADDRESS_WORDS and "--listen" in known:
            hint = " (the address and port to listen on are --listen HOST:PORT)"
        else:  # options are short: only a close spelling (--scenerio) is a suggestion
            hint = did_you_mean(option, known, cutoff=0.75)
        command.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
    return args


#: What people type for an address option fakepeer spells --listen.
_ADDRESS_WORDS = ("--port", "--host", "--bind", "--address")


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace
                   ) -> argparse.ArgumentParser:
    """The innermost sub-command parser ``args`` went through (``certs export``)."""
    while True:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, actions[0].dest, None) if actions else None
        if not actions or chosen not in actions[0].choices:
            return parser
        parser = actions[0].choices[chosen]


def main(argv: Sequence[str] | None = None, env: Environment | None = None,
         reactor: IRunReactor | None = None) -> ExitStatus:
    """Run one command; return its exit status instead of exiting (tests call this).

    A command that needs the reactor runs on ``reactor`` (default: Twisted's global one),
    which must not be running yet: it runs until the command ends.
    """
    env = env or Environment()
    parser = build_parser()
    try:
        args = parse_arguments(parser, argv)
    except SystemExit as exc:  # argparse exits on --help/--version and on usage errors
        return ExitStatus(exc.code if isinstance(exc.code, int) else ExitStatus.USAGE)
    try:
        launcher: Launcher | None = getattr(args, "launcher", None)
        if launcher is None:
            runner: Runner = args.runner
            return runner(args, env)
        from fakepeer.app.runner import run
        from fakepeer.net.reactors import installed_reactor

        running = reactor if reactor is not None else installed_reactor()
        job = launcher(args, env, running)
        if isinstance(job, ExitStatus):
            return job
        return ExitStatus(run(running, job))
    except (FakepeerError, KeyboardInterrupt) as exc:
        return report(env, exc)


def report(env: Environment, error: FakepeerError | KeyboardInterrupt) -> ExitStatus:
    """The exit status of a command that ``error`` ended, and its one line on stderr."""
    if isinstance(error, KeyboardInterrupt):
        return ExitStatus.ERROR_CTRL_C
    env.warn(f"fakepeer: error: {error}")
    return ExitStatus.ERROR


def launch(argv: Sequence[str], env: Environment, reactor: IRunReactor) -> Job | ExitStatus:
    """The job of a reactor command (serve, probe, rehearse), prepared but not started:
    ``job.start()`` on the running ``reactor`` runs it, ``job.interrupt()`` is SIGINT (an
    exit status when there is nothing to run). Bad input raises its
    :class:`~fakepeer.errors.FakepeerError` (``SystemExit`` for a usage error), which
    :func:`report` turns into the line and status :func:`main` gives."""
    args = parse_arguments(build_parser(), argv)
    launcher: Launcher | None = getattr(args, "launcher", None)
    if launcher is None:
        raise ValueError(f"{argv[0]!r} runs without the reactor: call main()")
    return launcher(args, env, reactor)


def entry_point() -> None:
    try:
        status = main()
    except BrokenPipeError:  # `fakepeer certs list | head` closed our stdout: not an error
        sys.stderr.close()
        status = ExitStatus.SUCCESS
    sys.exit(int(status))
