"""``fakepeer probe``: dial an SBC as the Teams or Genesys proxy does and report.

The other direction of ``serve``: fakepeer is the TLS client, presents the era's proxy
chain as its client certificate (Microsoft; Genesys presents none), judges the SBC's
certificate the way the cloud does and sends OPTIONS. One verdict line per attempt; the
exit status is 0 only when every attempt passed both ways (the SBC accepted us and we
accepted the SBC), :attr:`ExitStatus.PEER_FAILED` when any attempt failed, even if SIGINT
or SIGTERM then cut the run short (as ``rehearse``: a failure seen is the news), and
:attr:`ExitStatus.ERROR_CTRL_C` when they cut short a run with no failure, unless it was
``--count 0``, which runs until a signal and ends with 0 then (docs/exit-status.md).

The client chain is the one ``serve`` would serve for the same ``--profile``, ``--era``,
``--path`` and ``--defect`` (:func:`fakepeer.cli.options.scenario_from_options`, then
:func:`fakepeer.realize.realize`).

It runs as a job on the reactor :func:`fakepeer.app.runner.run` drives: SIGINT or SIGTERM hangs
up the attempt in flight, and the exit status is as above.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from fakepeer import vocabulary
from fakepeer.addresses import SIP_TLS_PORT, is_ip_address
from fakepeer.cli.environment import Environment
from fakepeer.cli.keylog import add_keylog_option, open_keylog, with_keylog
from fakepeer.cli.options import (
    add_store_options,
    open_pki,
    say_generation,
    scenario_from_options,
)
from fakepeer.cli.outbound import add_outbound_options, outbound_settings, sbc_address
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError
from fakepeer.profiles import profile_named
from fakepeer.realize import realize
from fakepeer.report.events import Fanout, Sink
from fakepeer.report.jsonl import ConsoleSink, JsonLinesSink

if TYPE_CHECKING:
    from fakepeer.app.runner import Job
    from fakepeer.net.reactors import IRunReactor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "probe", help="dial an SBC as the Teams or Genesys proxy does",
        description="Open a TLS connection to an SBC as the cloud proxy does (its TLS "
                    "suites, its client certificate for the era, SNI = the FQDN), check "
                    "the SBC's certificate the way the cloud does and send OPTIONS. Exit "
                    "status 0 only when the SBC accepted us and we accepted the SBC.")
    parser.add_argument("target", metavar="HOST[:PORT]",
                        help=f"the SBC (name or address; port default {SIP_TLS_PORT})")
    parser.add_argument("--profile", choices=list(vocabulary.PROFILE_NAMES), default=None,
                        help="whose proxy to dial as (default: the era's)")
    parser.add_argument("--era", choices=list(vocabulary.ERAS), default=None,
                        help=f"which PKI era's client chain and rules (default "
                             f"{vocabulary.DEFAULT_ERA}, or genesys for --profile genesys)")
    parser.add_argument("--path", default=None,
                        help="the era's chain path for the client certificate")
    parser.add_argument("--defect", action="append", default=[], metavar="NAME[=ARG]",
                        help="defect of the client chain fakepeer presents (repeatable): "
                             f"{', '.join(vocabulary.DEFECTS)}")
    add_outbound_options(parser)
    add_keylog_option(parser)
    parser.add_argument("--fqdn", default=None, metavar="NAME",
                        help="the SBC's FQDN: SNI and the name its certificate must carry "
                             "(default: HOST when it is a name)")
    parser.add_argument("--count", type=int, default=1, metavar="N",
                        help="attempts to make (default 1; 0: until interrupted)")
    parser.add_argument("--interval", type=float, default=None, metavar="S",
                        help="seconds between attempts, start to start (default 60, the "
                             "proxy's pace)")
    parser.add_argument("--options-anyway", action="store_true",
                        help="send OPTIONS even when the SBC's certificate is refused (the "
                             "real proxy resets the connection instead)")
    parser.add_argument("--events", type=Path, default=None, metavar="FILE",
                        help="append every event as a JSON line to FILE")
    parser.add_argument("--json", action="store_true",
                        help="JSON lines on stdout instead of readable lines")
    add_store_options(parser)
    parser.set_defaults(launcher=_launch)


def _launch(args: argparse.Namespace, env: Environment, reactor: IRunReactor) -> Job:
    from fakepeer.app.runner import Work
    from fakepeer.net.dialer import DialTarget
    from fakepeer.probe.pinger import DEFAULT_INTERVAL, Pinger

    host, port = sbc_address(args.target)
    if args.count < 0:
        raise ConfigError(f"--count {args.count}: must be 0 (until interrupted) or more")
    interval = args.interval if args.interval is not None else DEFAULT_INTERVAL
    if interval <= 0:
        raise ConfigError(f"--interval {interval:g}: must be positive")
    scenario = scenario_from_options(args)
    profile = profile_named(scenario.profile)
    if not profile.presents_client_certificate and (scenario.defects or scenario.path):
        raise ConfigError(f"--defect/--path shape the client certificate, and "
                          f"{profile.name.title()} presents none (it never does mutual TLS)")
    realized = realize(scenario, say_generation(open_pki(args, env.variables, env.cwd), env))
    keylog = open_keylog(args, env)
    outbound = outbound_settings(args, keylog)
    caller = outbound.caller(realized)
    address = host if is_ip_address(host) else _resolve(host, port)
    server_name = args.fqdn or (None if is_ip_address(host) else host)
    try:
        target = DialTarget(address, port, server_name, host)
    except ValueError as exc:
        raise ConfigError(f"{args.target}: {exc}") from None
    sinks: list[Sink] = [JsonLinesSink(env.stdout) if args.json else ConsoleSink(env.stdout)]
    log = JsonLinesSink.open(args.events) if args.events else None
    if log is not None:
        sinks.append(log)
    pinger = Pinger(reactor, caller, target, sink=Fanout(*sinks), count=args.count,
                    interval=interval, timeout=outbound.timeout,
                    options_anyway=args.options_anyway, now=outbound.now)
    interrupted: list[bool] = []

    def interrupt() -> None:
        interrupted.append(True)
        pinger.stop()

    async def work() -> int:
        try:
            results = await pinger.start()
        finally:
            if log is not None:
                log.close()
        if any(not result.ok for result in results):
            return ExitStatus.PEER_FAILED
        if interrupted and (args.count != 0 or not results):  # --count 0 runs until a signal
            return ExitStatus.ERROR_CTRL_C
        return ExitStatus.SUCCESS if results else ExitStatus.PEER_FAILED

    return with_keylog(Work(work, on_interrupt=interrupt), keylog, env)


def _resolve(host: str, port: int) -> str:
    """The first address the system resolver gives for ``host`` (IPv4 preferred)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve {host!r}: {exc.strerror}") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])
