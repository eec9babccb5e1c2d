"""``fakepeer probe``: dial an SBC as the Teams or Genesys proxy does and report.

The other direction of ``serve``: fakepeer is the TLS client, presents the era's proxy
chain as its client certificate (Microsoft; Genesys presents none), judges the SBC's
certificate the way the cloud does and sends OPTIONS. One verdict line per attempt; the
exit status is 0 only when every attempt passed both ways (the SBC accepted us and we
accepted the SBC), :attr:`ExitStatus.PEER_FAILED` otherwise.

It runs its own reactor instance rather than the global one: ``main()`` is called
in-process by tests and scripts, and Twisted's global reactor can run only once per
process. This module also offers ``serve``'s ``--dialback``/``--sbc`` options and
:func:`wire_dialback`, which gives each served phase its
:class:`~fakepeer.probe.dialback.DialBack`.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509

from fakepeer import vocabulary
from fakepeer.addresses import SIP_TLS_PORT, AddressError, is_ip_address, parse_host_port
from fakepeer.cli.environment import Environment
from fakepeer.cli.options import add_store_options, open_pki, parse_now
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import ConfigError
from fakepeer.pki import mirrors
from fakepeer.report.events import Fanout, Sink
from fakepeer.report.jsonl import ConsoleSink, JsonLinesSink

_EKU_RULES = ("serverAuth", "serverAuth+clientAuth", "clientAuth", "any")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "probe", help="dial an SBC as the Teams or Genesys proxy does",
        description="Open a TLS connection to an SBC as the cloud proxy does (its TLS "
                    "suites, its client certificate for the era, SNI = the FQDN), check "
                    "the SBC's certificate the way the cloud does and send OPTIONS. Exit "
                    "status 0 only when the SBC accepted us and we accepted the SBC.")
    parser.add_argument("target", metavar="HOST[:PORT]",
                        help=f"the SBC (name or address; port default {SIP_TLS_PORT})")
    parser.add_argument("--profile", choices=["microsoft", "genesys"], default=None,
                        help="whose proxy to dial as (default: the era's)")
    parser.add_argument("--era", choices=list(mirrors.ERAS), default=None,
                        help=f"which PKI era's client chain and rules (default "
                             f"{mirrors.DEFAULT_ERA}, or genesys for --profile genesys)")
    parser.add_argument("--path", default=None,
                        help="the era's chain path for the client certificate")
    parser.add_argument("--defect", action="append", default=[], metavar="NAME[=ARG]",
                        help="defect of the client chain fakepeer presents (repeatable): "
                             f"{', '.join(vocabulary.DEFECTS)}")
    add_outbound_options(parser)
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
    parser.set_defaults(runner=_run)


def add_outbound_options(parser: argparse.ArgumentParser,
                         timeout_flag: str = "--timeout") -> None:
    """Options shared by ``probe`` and ``serve``'s dial-back: trust, EKU rule, timeout.

    ``serve`` passes ``timeout_flag="--dialback-timeout"``, since its other timeouts are
    about inbound connections; the value lands in ``args.timeout`` either way.
    """
    group = parser.add_argument_group("outbound connections (fakepeer dials the SBC)")
    group.add_argument("--trust", action="append", type=Path, default=[], metavar="FILE",
                       help="extra PEM roots the SBC's certificate may chain to (repeatable; "
                            "the system's public roots and the mirrored roots always count)")
    group.add_argument("--sbc-eku", choices=_EKU_RULES, default=None,
                       help="EKU the SBC's certificate must carry (default: the era's rule)")
    group.add_argument("--from-host", default=None, metavar="NAME",
                       help="host in From/Via/Contact of fakepeer's OPTIONS (default "
                            "sip-du-a-us.pstnhub.microsoft.com for microsoft)")
    group.add_argument(timeout_flag, dest="timeout", type=float, default=5.0, metavar="S",
                       help="seconds per phase: TCP connect, TLS handshake, SIP answer "
                            "(default 5)")


def add_dialback_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s dial-back options (``add_outbound_options`` must be added too)."""
    group = parser.add_argument_group("dial-back (after a 200 OK, fakepeer dials the SBC's "
                                      "Contact as the real proxy does)")
    group.add_argument("--dialback", action=argparse.BooleanOptionalAction, default=None,
                       help="dial the Contact FQDN and port after each accepted OPTIONS "
                            "(default: as the scenario's sip.dialback says)")
    group.add_argument("--sbc", action="append", default=[], metavar="FQDN=ADDRESS:PORT",
                       help="where to dial a Contact FQDN, for labs without DNS (repeatable; "
                            "implies --dialback)")


def sbc_address(text: str) -> tuple[str, int]:
    """An SBC's ``HOST[:PORT]`` (port 5061 by default); a bad one is a ConfigError."""
    try:
        return parse_host_port(text, default_port=SIP_TLS_PORT)
    except AddressError as exc:
        raise ConfigError(str(exc)) from None


def parse_sbc_mapping(items: list[str]) -> dict[str, tuple[str, int]]:
    """``--sbc FQDN=ADDRESS:PORT`` values -> {fqdn: (address, port)}; the address must be
    an IP address (the point is to avoid DNS)."""
    mapping: dict[str, tuple[str, int]] = {}
    for item in items:
        name, eq, where = item.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--sbc {item!r}: expected FQDN=ADDRESS:PORT")
        address, port = sbc_address(where)
        if not is_ip_address(address):
            raise ConfigError(f"--sbc {item!r}: {address!r} is not an IP address")
        mapping[name.strip().lower().rstrip(".")] = (address, port)
    return mapping


def load_trust(paths: list[Path]) -> tuple[x509.Certificate, ...]:
    """Every certificate in the ``--trust`` files; a file without one is an error."""
    from fakepeer.tls.inspect import parse_pem_bundle

    roots: list[x509.Certificate] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--trust {path}: {exc.strerror or exc}") from None
        found = parse_pem_bundle(data, path)
        if not found.roots:
            raise ConfigError(f"--trust {path}: no PEM certificate in it")
        roots.extend(found.roots)
    return tuple(roots)


def caller_from_options(args: argparse.Namespace, pki: Any, scenario: Any = None) -> Any:
    """The :class:`~fakepeer.probe.caller.Caller` the options describe.

    With ``scenario`` (a served scenario or phase), its profile, era, path and defects
    choose the client chain: the proxy dials back with the certificate it serves.
    """
    from fakepeer.probe.caller import build_caller

    if args.timeout <= 0:
        raise ConfigError(f"--timeout {args.timeout:g}: must be positive")
    if scenario is None:
        profile, era, path, defects = args.profile, args.era, args.path, tuple(args.defect)
    elif scenario.profile == "genesys":  # presents no client certificate to shape
        profile, era, path, defects = "genesys", scenario.era, None, ()
    else:
        profile, era, path = scenario.profile, scenario.era, scenario.path
        defects = tuple(scenario.defects)
    return build_caller(pki, profile=profile, era=era, path=path, defects=defects,
                        extra_trust=load_trust(args.trust), sbc_eku=args.sbc_eku,
                        from_host=args.from_host)


def dialback_for(args: argparse.Namespace, pki: Any, scenario: Any = None,
                 reactor: Any = None) -> Any:
    """The :class:`~fakepeer.probe.dialback.DialBack` for ``ServeSettings.on_options_accepted``
    of one served phase, or ``None`` when neither the options (``--dialback``/``--sbc``)
    nor the scenario (``sip.dialback``) ask for one.

    It reports through the listener once ``attach(listeners.sip_factory)`` is called;
    ``reactor`` defaults to the global one, which ``serve`` runs.
    """
    wanted = scenario is not None and getattr(scenario.sip, "dialback", False)
    if args.dialback is False or not (args.dialback or args.sbc or wanted):
        return None
    from fakepeer.probe.dialback import DialBack

    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor
    return DialBack(reactor, caller_from_options(args, pki, scenario),
                    sbc_map=parse_sbc_mapping(args.sbc), timeout=args.timeout,
                    now=parse_now(args.now) if args.now else None)


def wire_dialback(args: argparse.Namespace, pki: Any, scenario: Any, phases: list[Any],
                  factory: Any, reactor: Any = None) -> list[Any]:
    """Give every phase of ``scenario`` (as built by ``fakepeer.assembly.build_phases``) a
    :class:`~fakepeer.probe.dialback.DialBack` presenting that phase's chain, reporting
    through the listener's ``factory``: the phases whose scenario says ``sip.dialback``,
    or all of them with ``--dialback``/``--sbc``; none with ``--no-dialback``.

    Call it after building the listener, and again for the new phases of a scenario
    switch. Returns the DialBacks (their ``results`` hold every outbound attempt).
    """
    if args.dialback is False:
        return []
    forced = bool(args.dialback or args.sbc)
    hooks = []
    for (_, effective), runtime in zip(scenario.timeline(), phases, strict=True):
        if not (forced or effective.sip.dialback):
            continue
        hook = dialback_for(args, pki, effective, reactor)
        hook.attach(factory)
        runtime.settings.on_options_accepted = hook
        hooks.append(hook)
    return hooks


def _run(args: argparse.Namespace, env: Environment) -> ExitStatus:
    from fakepeer.net.dialer import DialResult, DialTarget
    from fakepeer.probe.pinger import DEFAULT_INTERVAL, ping

    host, port = sbc_address(args.target)
    if args.count < 0:
        raise ConfigError(f"--count {args.count}: must be 0 (until interrupted) or more")
    interval = args.interval if args.interval is not None else DEFAULT_INTERVAL
    if interval <= 0:
        raise ConfigError(f"--interval {interval:g}: must be positive")
    caller = caller_from_options(args, open_pki(args, env.variables, env.cwd))
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
    results: list[DialResult] = []
    reactor = _private_reactor()

    def work() -> Any:
        return ping(reactor, caller, target, sink=Fanout(*sinks), count=args.count,
                    interval=interval, timeout=args.timeout,
                    options_anyway=args.options_anyway,
                    now=parse_now(args.now) if args.now else None,
                    on_result=results.append)

    try:
        interrupted = _run_reactor(reactor, work)
    finally:
        if log is not None:
            log.close()
    if interrupted:
        return ExitStatus.ERROR_CTRL_C
    if results and all(result.ok for result in results):
        return ExitStatus.SUCCESS
    return ExitStatus.PEER_FAILED


def _resolve(host: str, port: int) -> str:
    """The first address the system resolver gives for ``host`` (IPv4 preferred)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve {host!r}: {exc.strerror}") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])


def _private_reactor() -> Any:
    """A fresh, uninstalled reactor: see the module docstring for why not the global one."""
    from twisted.internet.selectreactor import SelectReactor

    return SelectReactor()


def _run_reactor(reactor: Any, work: Callable[[], Any]) -> bool:
    """Run ``reactor`` until ``work()``'s Deferred fires or SIGINT; True if interrupted.

    SIGINT is caught only while the reactor runs (and only in the main thread, where
    Python delivers signals), then the previous handler is restored.
    """
    from twisted.internet.defer import maybeDeferred

    interrupted: list[bool] = []
    failures: list[Any] = []

    def stop(_: object = None) -> None:
        if reactor.running:
            reactor.stop()

    def begin() -> None:
        done = maybeDeferred(work)
        done.addErrback(failures.append)
        done.addBoth(stop)

    def on_sigint(signum: int, frame: object) -> None:
        interrupted.append(True)
        reactor.callFromThread(stop)

    reactor.callWhenRunning(begin)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
        with contextlib.suppress(Exception):  # free the waker's pipe: one reactor per run
            reactor.removeReader(reactor.waker)
            reactor.waker.connectionLost(None)
    if failures:
        failures[0].raiseException()
    return bool(interrupted)
