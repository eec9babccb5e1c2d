"""``fakepeer serve``: listen for SIP over TLS as the chosen cloud peer and report."""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakepeer import vocabulary
from fakepeer.cli.environment import Environment
from fakepeer.cli.keylog import add_keylog_option, open_keylog, with_keylog
from fakepeer.cli.options import (
    DEFAULT_HTTP_BASE,
    add_scenarios_option,
    add_store_options,
    http_base_option,
    leaf_overrides,
    listen_addresses,
    open_catalogue,
    open_pki,
    say_generation,
    scenario_from_options,
    sip_overrides,
    tls_overrides,
)
from fakepeer.cli.outbound import add_dialback_options, add_outbound_options, dialback_settings
from fakepeer.errors import ScenarioError
from fakepeer.scenario.load import DEFAULT_SCENARIO
from fakepeer.scenario.model import LEAF_KEYS, Scenario

if TYPE_CHECKING:
    from fakepeer.app.runner import Job
    from fakepeer.net.reactors import IRunReactor


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
    add_keylog_option(parser)
    add_dialback_options(parser)
    add_outbound_options(parser, timeout_flag="--dialback-timeout")
    add_store_options(parser)
    parser.set_defaults(launcher=_launch)


#: The parts of a scenario that decide what is served (not its name or its texts).
_WHAT_IS_SERVED = ("profile", "era", "path", "defects", "tls", "sip", "leaf", "names",
                   "phases")


def chosen_scenario(args: argparse.Namespace, env: Environment) -> Scenario:
    """A catalogue scenario with the command line's overrides, or the command line's own."""
    name = args.scenario or env.variables.get("FAKEPEER_SCENARIO")
    if not name:
        described = scenario_from_options(args)
        default = open_catalogue(args, env).get(DEFAULT_SCENARIO)
        if default is None or any(getattr(described, part) != getattr(default, part)
                                  for part in _WHAT_IS_SERVED):
            return described
        # nothing changed: serve the default by its name, as `scenarios list` shows it
        return default
    catalogue = open_catalogue(args, env, named=name)
    scenario = catalogue.get_scenario(name)  # unknown, or a broken file's own error
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


def _certificate_urls(args: argparse.Namespace, env: Environment,
                      http: tuple[str, int] | None) -> str | None:
    """Where the certificates' AIA/CRL/OCSP URLs point when no --http-url is given: the
    HTTP side's own address, so `--http 127.0.0.1:8099` moves them too. An address an
    SBC cannot dial (0.0.0.0, an ephemeral port) cannot be put in a URL: say so."""
    if http is None or http_base_option(args, env.variables):
        return None
    host, port = http
    if port == 0:
        env.warn(f"fakepeer: warning: the HTTP side listens on an ephemeral port, but the "
                 f"certificates' AIA/CRL/OCSP URLs point at {DEFAULT_HTTP_BASE}; give "
                 "--http-url http://HOST:PORT where the SBC reaches it")
        return None
    if _unspecified(host):
        env.warn(f"fakepeer: note: the certificates' AIA/CRL/OCSP URLs use "
                 f"http://127.0.0.1:{port}; an SBC on another host needs --http-url "
                 f"http://THIS-HOST:{port} (or $FAKEPEER_HTTP_URL)")
        return f"http://127.0.0.1:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _unspecified(host: str) -> bool:
    """0.0.0.0 or ::, which a socket binds to and no SBC can dial."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _launch(args: argparse.Namespace, env: Environment, reactor: IRunReactor) -> Job:
    """Build the service tree from the options, brief the engineer, hand back its job."""
    from fakepeer.app.serve import ServeApplication, ServeConfig, serve_job
    from fakepeer.cli.briefing import briefing, timeline_lines

    listens = args.listen or [env.variables.get("FAKEPEER_LISTEN", "0.0.0.0:5061")]
    addresses = listen_addresses(listens)
    http_address = None
    if not args.no_http:
        http_address = listen_addresses([args.http or env.variables.get("FAKEPEER_HTTP")
                                         or "127.0.0.1:8080"], "--http")[0]
    scenario = chosen_scenario(args, env)
    keylog = open_keylog(args, env)
    config = ServeConfig(
        scenario=scenario, pki=say_generation(open_pki(
            args, env.variables, env.cwd,
            http_base=_certificate_urls(args, env, http_address)), env),
        listen=addresses,
        output=env.stdout, errors=env.stderr, http=http_address,
        http_token=args.http_token or env.variables.get("FAKEPEER_HTTP_TOKEN"),
        json=args.json, events=args.events, idle_timeout=args.idle_timeout,
        max_connections=args.max_connections, dialback=dialback_settings(args, keylog),
        catalogue=lambda: open_catalogue(args, env), keylog=keylog)
    application = ServeApplication(reactor, config)

    def brief() -> None:
        """Once every port listens: the real ports (--listen :0 included), and no
        briefing at all before a listen that fails."""
        bound = [f"{host}:{port}" for host, port in application.sip_addresses()]
        for line in [*briefing(application.timeline[0][1], bound or listens),
                     *timeline_lines(scenario, application.phases)]:
            env.warn(line) if args.json else env.say(line)

    return with_keylog(serve_job(application, brief), keylog, env)
