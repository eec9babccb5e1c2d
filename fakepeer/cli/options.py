"""Options several commands share: the store, its variant and reference time, the
scenario folders, listening addresses, and the scenario a command line describes.

Every command builds what it serves or dials from a :class:`~fakepeer.scenario.model.
Scenario`; a command line without ``--scenario`` describes one with
:func:`scenario_from_options`, the same way for ``serve`` and ``probe``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fakepeer import vocabulary
from fakepeer.addresses import AddressError, listen_address
from fakepeer.cli.environment import Environment
from fakepeer.errors import ConfigError, ScenarioError
from fakepeer.pki.authority import IssueOptions
from fakepeer.pki.hierarchy import Pki
from fakepeer.pki.store import CertStore
from fakepeer.scenario.load import Catalogue, load_catalogue, scenario_dirs
from fakepeer.scenario.model import LeafSpec, Scenario, SipSpec, TlsSpec

SCENARIOS_VARIABLE = "FAKEPEER_SCENARIOS"


def add_store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("certificate store")
    group.add_argument("--certs", type=Path, default=None, metavar="DIR",
                       help="the certificate store (default: ./certs, or $FAKEPEER_CERTS)")
    group.add_argument("--real-names", action="store_true",
                       help="exact real CA names, without the '(fakepeer lab)' marker")
    group.add_argument("--real-dates", action="store_true",
                       help="the real CAs' validity dates instead of 'valid now'")
    group.add_argument("--now", default=None, metavar="ISO-DATE",
                       help="the reference time for validity (default: the clock), "
                            "e.g. 2026-08-26T00:00:00Z")
    group.add_argument("--http-url", default=None, metavar="URL",
                       help="base of the AIA/CRL/OCSP URLs put in certificates "
                            "(default http://127.0.0.1:8080)")


def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--now {text!r} is not an ISO date such as 2026-08-26T00:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


#: Where the certificates' AIA, CRL and OCSP URLs point unless told otherwise.
DEFAULT_HTTP_BASE = "http://127.0.0.1:8080"


def http_base_option(args: argparse.Namespace, variables: dict[str, str]) -> str | None:
    """``--http-url`` or ``$FAKEPEER_HTTP_URL``, if either is given."""
    return getattr(args, "http_url", None) or variables.get("FAKEPEER_HTTP_URL") or None


def open_pki(args: argparse.Namespace, variables: dict[str, str], cwd: Path, *,
             http_base: str | None = None, read_only: bool = False) -> Pki:
    """The store the options name. ``http_base`` is where the certificates' URLs point
    when neither ``--http-url`` nor ``$FAKEPEER_HTTP_URL`` says (serve: its HTTP side).
    ``read_only``: a look that writes nothing (what is missing is made in memory)."""
    root = args.certs or Path(variables.get("FAKEPEER_CERTS") or cwd / "certs")
    try:
        options = IssueOptions(
            real_names=args.real_names, real_dates=args.real_dates,
            http_base=http_base_option(args, variables) or http_base or DEFAULT_HTTP_BASE,
            now=parse_now(args.now),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Pki(CertStore(root, options.variant, read_only=read_only), options)


def say_generation(pki: Pki, env: Environment) -> Pki:
    """``pki`` telling the engineer on stderr when it makes keys (the slow step of a
    first start), instead of seconds of silence."""
    pki.progress = lambda line: env.warn(f"fakepeer: {pki.store.root}: {line} (made "
                                         "once: later starts reuse them)")
    return pki


def listen_addresses(texts: list[str], option: str = "--listen") -> list[tuple[str, int]]:
    """Each ``HOST:PORT`` to listen on; a bad one is a ConfigError naming the option."""
    try:
        return [listen_address(text) for text in texts]
    except AddressError as exc:
        raise ConfigError(f"{option} {exc}") from None


def add_scenarios_option(parser: argparse.ArgumentParser) -> None:
    """``--scenarios DIR`` (repeatable), shared with commands that pick a scenario."""
    parser.add_argument(
        "--scenarios", action="append", type=Path, default=None, metavar="DIR",
        help="a folder of your own scenario files (repeatable); a file named like a shipped "
             f"scenario overrides it (default: ${SCENARIOS_VARIABLE}, {os.pathsep}-separated)")


def user_scenario_dirs(args: argparse.Namespace, env: Environment) -> list[Path]:
    given = args.scenarios
    if given is None:
        text = env.variables.get(SCENARIOS_VARIABLE, "")
        given = [Path(part) for part in text.split(os.pathsep) if part]
    return [folder if folder.is_absolute() else env.cwd / folder for folder in given]


def open_catalogue(args: argparse.Namespace, env: Environment,
                   named: str | None = None) -> Catalogue:
    """The shipped catalogue plus the user's folders; overrides, notes and the files
    left out are reported on stderr, one line each, except the scenario the command
    ``named``: asking for it gives its error, once."""
    catalogue = load_catalogue(scenario_dirs(user_scenario_dirs(args, env)))
    for override in catalogue.overrides:
        env.warn(f"note: {override.line()}")
    for note in catalogue.notes:
        env.warn(f"note: {note}")
    for name, broken in catalogue.broken.items():
        if name != named:
            env.warn(f"warning: {broken.line()}")
    return catalogue


def scenario_from_options(args: argparse.Namespace) -> Scenario:
    """The scenario a command line describes when no catalogue scenario is named: its
    ``--profile``, ``--era``, ``--path`` and ``--defect``, and, where the command has
    them (``serve``), the TLS, SIP and leaf options. The era defaults to the profile's,
    the profile to the era's."""
    era = args.era or vocabulary.default_era_of(args.profile)
    profile = args.profile or vocabulary.ERAS[era].profile
    try:
        return Scenario(
            name="command-line",
            description="built from command-line options",
            profile=profile, era=era, path=args.path, defects=tuple(args.defect),
            tls=tls_overrides(TlsSpec(), args),
            sip=sip_overrides(SipSpec(), args),
            leaf=leaf_overrides(LeafSpec(), args),
        )
    except ValueError as exc:
        raise ScenarioError(f"command-line scenario: {exc}") from None


def _given(args: argparse.Namespace, option: str) -> Any:
    """An option's value, ``None`` when this command has no such option."""
    return vars(args).get(option)


def tls_overrides(spec: TlsSpec, args: argparse.Namespace) -> TlsSpec:
    """``spec`` with the ``--tls-min``, ``--tls-max``, ``--ciphers``, ``--groups``,
    ``--client-cert``, ``--ca-list`` and ``--tolerate-missing-client-auth`` given."""
    changes: dict[str, Any] = {}
    for option, name in (("tls_min", "min_version"), ("tls_max", "max_version"),
                         ("client_cert", "client_certificate"), ("ca_list", "ca_list")):
        if _given(args, option) is not None:
            changes[name] = _given(args, option)
    for option in ("ciphers", "groups"):
        if _given(args, option):
            changes[option] = tuple(_given(args, option).split(":"))
    if _given(args, "tolerate_missing_client_auth"):
        changes["tolerate_missing_client_auth"] = True
    return replace(spec, **changes) if changes else spec


def leaf_overrides(spec: LeafSpec, args: argparse.Namespace) -> LeafSpec:
    """``spec`` with the ``--leaf-name``, ``--leaf-key`` and ``--leaf-days`` given."""
    changes: dict[str, Any] = {}
    names = _given(args, "leaf_name")
    if names:
        changes.update(dns_names=tuple(names), common_name=names[0])
    if _given(args, "leaf_key"):
        changes["key"] = _given(args, "leaf_key")
    if _given(args, "leaf_days") is not None:
        changes["days"] = _given(args, "leaf_days")
    return replace(spec, **changes) if changes else spec


def sip_overrides(spec: SipSpec, args: argparse.Namespace) -> SipSpec:
    """``spec`` with the ``--options-status``, ``--invite-status`` and
    ``--tenant-domain`` given."""
    changes: dict[str, Any] = {}
    for option in ("options_status", "invite_status"):
        if _given(args, option) is not None:
            changes[option] = _given(args, option)
    if _given(args, "tenant_domain"):
        changes["tenant_domains"] = tuple(_given(args, "tenant_domain"))
    return replace(spec, **changes) if changes else spec
