"""``fakepeer serve``: listen for SIP over TLS as the chosen cloud peer and report."""

from __future__ import annotations

import argparse
import resource
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.internet.interfaces import IReactorTCP

from fakepeer import vocabulary
from fakepeer.cli.environment import Environment
from fakepeer.cli.options import (
    add_scenarios_option,
    add_store_options,
    leaf_overrides,
    listen_addresses,
    open_catalogue,
    open_pki,
    scenario_from_options,
    sip_overrides,
    tls_overrides,
)
from fakepeer.cli.outbound import add_dialback_options, add_outbound_options, wire_dialback
from fakepeer.cli.status import ExitStatus
from fakepeer.errors import FakepeerError, ScenarioError
from fakepeer.report.events import Event, Fanout
from fakepeer.report.jsonl import ConsoleSink, JsonLinesSink
from fakepeer.scenario.model import (
    LEAF_KEYS,
    Scenario,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve", help="serve SIP over TLS as the Teams or Genesys peer",
        description="Listen for an SBC as sip.pstnhub.microsoft.com (or a Genesys BYOC "
                    "proxy) would, serve the chosen certificate situation and report what "
                    "the SBC did. With no options: today's Microsoft chain on 0.0.0.0:5061.")
    parser.add_argument("--scenario", default=None, metavar="NAME",
                        help="serve a scenario from the catalogue (see `fakepeer scenarios "
                             "list`); the options below then override its settings "
                             "(default: $FAKEPEER_SCENARIO, else built from the options)")
    add_scenarios_option(parser)
    parser.add_argument("--listen", action="append", metavar="HOST:PORT",
                        help="address to listen on (repeatable; default 0.0.0.0:5061)")
    parser.add_argument("--profile", choices=list(vocabulary.PROFILE_NAMES), default=None,
                        help="whose proxy to behave as (default: the era's)")
    parser.add_argument("--era", choices=list(vocabulary.ERAS), default=None,
                        help=f"which PKI era to serve (default {vocabulary.DEFAULT_ERA}, or "
                             "genesys for --profile genesys)")
    parser.add_argument("--path", default=None, help="the era's chain path (e.g. microsoft-2017)")
    parser.add_argument("--defect", action="append", default=[], metavar="NAME[=ARG]",
                        help=f"certificate defect (repeatable): {', '.join(vocabulary.DEFECTS)}")
    parser.add_argument("--leaf-name", action="append", default=None, metavar="DNS",
                        help="the leaf's DNS names instead of the era's (repeatable; the "
                             "first is also its CN)")
    parser.add_argument("--leaf-key", choices=LEAF_KEYS, default=None,
                        help="the leaf's key type instead of the era's (RSA 2048)")
    parser.add_argument("--leaf-days", type=int, default=None, metavar="N",
                        help="the leaf's validity in days (default 199)")
    parser.add_argument("--tls-min", default=None, help="lowest TLS version (TLSv1..TLSv1.3)")
    parser.add_argument("--tls-max", default=None, help="highest TLS version")
    parser.add_argument("--ciphers", default=None, help="OpenSSL cipher list (colon-separated)")
    parser.add_argument("--groups", default=None, help="ECDHE groups (colon-separated)")
    parser.add_argument("--client-cert", choices=vocabulary.CLIENT_CERTIFICATE_MODES, default=None,
                        help="mutual TLS policy (default: required for microsoft, off for "
                             "genesys)")
    parser.add_argument("--ca-list", choices=vocabulary.CA_LISTS, default=None,
                        help="the CertificateRequest's CA names")
    parser.add_argument("--tolerate-missing-client-auth", action="store_true",
                        help="accept SBC certificates without clientAuth (late-2025 rule)")
    parser.add_argument("--options-status", type=int, default=None,
                        help="status to answer OPTIONS with (default 200)")
    parser.add_argument("--invite-status", type=int, default=None,
                        help="final response to INVITE (default 503: fakepeer places no calls)")
    parser.add_argument("--tenant-domain", action="append", default=None, metavar="DOMAIN",
                        help="allowed tenant domain for the Contact FQDN (repeatable; default: "
                             "any domain the SBC certificate proves)")
    parser.add_argument("--http", default=None, metavar="HOST:PORT",
                        help="the HTTP side service: roots, AIA, CRL, OCSP, status page and "
                             "control API (default 127.0.0.1:8080 or $FAKEPEER_HTTP)")
    parser.add_argument("--no-http", action="store_true", help="no HTTP side service")
    parser.add_argument("--http-token", default=None, metavar="TOKEN",
                        help="require 'Authorization: Bearer TOKEN' on the control API from "
                             "every client, loopback too; without a token only loopback "
                             "clients may use it (default $FAKEPEER_HTTP_TOKEN)")
    parser.add_argument("--events", type=Path, default=None, metavar="FILE",
                        help="append every event as a JSON line to FILE")
    parser.add_argument("--json", action="store_true",
                        help="JSON lines on stdout instead of readable lines")
    parser.add_argument("--idle-timeout", type=float, default=300.0,
                        help="close connections idle this many seconds (default 300)")
    parser.add_argument("--max-connections", type=int, default=4000, metavar="N",
                        help="refuse SBC connections beyond N open at once, so a flood "
                             "cannot exhaust file descriptors (default 4000)")
    add_dialback_options(parser)
    add_outbound_options(parser, timeout_flag="--dialback-timeout")
    add_store_options(parser)
    parser.set_defaults(runner=_run)


def chosen_scenario(args: argparse.Namespace, env: Environment) -> Scenario:
    """A catalogue scenario with the command line's overrides, or the command line's own."""
    name = args.scenario or env.variables.get("FAKEPEER_SCENARIO")
    if not name:
        return scenario_from_options(args)
    catalogue = open_catalogue(args, env, named=name)
    if name not in catalogue and name not in catalogue.broken:
        raise ScenarioError(f"no scenario {name!r}; known: {', '.join(sorted(catalogue))} "
                            "(see `fakepeer scenarios list`)")
    scenario = catalogue.get_scenario(name)  # a broken file fails with its own error
    try:
        changes: dict[str, Any] = {"tls": tls_overrides(scenario.tls, args),
                                   "sip": sip_overrides(scenario.sip, args),
                                   "leaf": leaf_overrides(scenario.leaf, args)}
        if args.era:
            changes.update(era=args.era, path=args.path)
        elif args.path:
            changes["path"] = args.path
        if args.profile:
            changes["profile"] = args.profile
        if args.defect:
            changes["defects"] = (*scenario.defects, *args.defect)
        return replace(scenario, **changes)
    except ValueError as exc:
        raise ScenarioError(f"scenario {name} with command-line overrides: {exc}") from None


def _run(args: argparse.Namespace, env: Environment) -> ExitStatus:
    from fakepeer.cli.briefing import briefing, timeline_lines
    from fakepeer.net.phases import PhaseRuntime, phase_runtimes
    from fakepeer.net.reactors import installed_reactor
    from fakepeer.net.service import SipListeners
    from fakepeer.realize import RealizedScenario, realize_timeline
    from fakepeer.report.board import StatusBoard
    from fakepeer.scenario.model import Phase

    reactor = installed_reactor()
    _raise_fd_limit()
    listens = args.listen or [env.variables.get("FAKEPEER_LISTEN", "0.0.0.0:5061")]
    addresses = listen_addresses(listens)
    http_address = None
    if not args.no_http:
        http_address = listen_addresses([args.http or env.variables.get("FAKEPEER_HTTP")
                                         or "127.0.0.1:8080"], "--http")[0]
    scenario = chosen_scenario(args, env)
    pki = open_pki(args, env.variables, env.cwd)

    def phases_for(chosen: Scenario) -> tuple[tuple[tuple[Phase, RealizedScenario], ...],
                                              list[PhaseRuntime]]:
        timeline = realize_timeline(chosen, pki)
        return timeline, phase_runtimes(chosen.name, timeline, idle_timeout=args.idle_timeout,
                                        max_connections=args.max_connections)

    timeline, phases = phases_for(scenario)
    for line in [*briefing(timeline[0][1], listens), *timeline_lines(scenario, phases)]:
        env.warn(line) if args.json else env.say(line)
    board = StatusBoard()
    board.scenario = scenario.name
    sinks: list[Any] = [JsonLinesSink(env.stdout) if args.json else ConsoleSink(env.stdout),
                        board]
    if args.events:
        sinks.append(JsonLinesSink.open(args.events))
    sink = Fanout(*sinks)
    listeners = SipListeners(reactor, phases, sink, addresses)
    wire_dialback(args, timeline, phases, listeners.sip_factory)
    current = {"scenario": scenario}

    def switch(name: str, *, reload: bool = False) -> str:
        """Serve another catalogue scenario (or re-read the current one's file)."""
        catalogue = open_catalogue(args, env)
        if name not in catalogue and name not in catalogue.broken:
            raise ScenarioError(f"no scenario {name!r}; known: {', '.join(sorted(catalogue))}")
        chosen = catalogue.get_scenario(name)
        new_timeline, new_phases = phases_for(chosen)
        wire_dialback(args, new_timeline, new_phases, listeners.sip_factory)
        listeners.timeline.load(new_phases)
        current["scenario"] = chosen
        board.scenario = chosen.name
        verb = "reloaded" if reload else "now serving"
        sink(Event("phase", 0, "-", f"{verb} scenario {chosen.name}",
                   {"name": chosen.name, "label": chosen.name}))
        return f"{verb} scenario {chosen.name}"

    def jump(index: int) -> str:
        try:
            listeners.timeline.jump(index)
        except IndexError as exc:
            raise ScenarioError(str(exc)) from None
        return f"phase {index} of {current['scenario'].name}"

    def reload_on_sighup() -> None:
        name = current["scenario"].name
        if current["scenario"].source is None:
            sink(Event("phase", 0, "-", "SIGHUP: the scenario comes from command-line options;"
                       " nothing to reload", {"name": name}))
            return
        try:
            switch(name, reload=True)
        except FakepeerError as exc:  # a bad file keeps the running scenario
            sink(Event("phase", 0, "-", f"SIGHUP reload failed, still serving {name}: {exc}",
                       {"name": name, "error": str(exc)}))

    failure: list[str] = []

    def started(_: object) -> None:
        reactor.addSystemEventTrigger("before", "shutdown", listeners.stopService)
        signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(reload_on_sighup))

    def failed(reason: Any) -> None:
        error = getattr(reason.value, "subFailure", reason)
        failure.append(f"cannot listen: {error.getErrorMessage()}")
        if reactor.running:
            reactor.stop()

    def begin() -> None:
        listeners.listen().addCallbacks(started, failed)
        if http_address is not None:
            _start_http(reactor, http_address, pki, board, switch, jump,
                        args.http_token or env.variables.get("FAKEPEER_HTTP_TOKEN"), sink,
                        failed)

    reactor.callWhenRunning(begin)
    # Twisted installs its SIGINT handler only over Python's default one; a shell that
    # starts us in the background hands down SIGINT ignored, so put the default back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    reactor.run()  # installs SIGINT/SIGTERM handlers that stop it cleanly
    if failure:
        raise FakepeerError(failure[0])
    return ExitStatus.SUCCESS


def _start_http(reactor: IReactorTCP, address: tuple[str, int], pki: Any, board: Any,
                switch: Any, jump: Any, token: str | None, sink: Any, failed: Any) -> None:
    from fakepeer.net.endpoints import server_endpoint
    from fakepeer.net.http import ControlActions, build_site

    host, port = address
    site = build_site(pki, board, ControlActions(switch, jump), token, sink=sink)

    def listening(listening_port: Any) -> None:
        bound = listening_port.getHost()
        sink(Event("listening", 0, f"{bound.host}:{bound.port}",
                   f"HTTP side service on http://{bound.host}:{bound.port}/ (roots, AIA, "
                   "CRL, OCSP, status)", {"host": bound.host, "port": bound.port,
                                          "service": "http"}))

    server_endpoint(reactor, host, port).listen(site).addCallbacks(listening, failed)


def _raise_fd_limit() -> None:
    """Each SBC connection is a file descriptor; the usual soft limit of 1024 is too low
    for a lab rehearsing many SBCs, so lift it to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
