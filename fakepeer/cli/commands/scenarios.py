"""``fakepeer scenarios``: list the catalogue and show what one scenario serves and expects."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fakepeer import vocabulary
from fakepeer.cli.environment import Environment
from fakepeer.cli.options import add_scenarios_option, add_store_options, open_catalogue, open_pki
from fakepeer.cli.status import ExitStatus
from fakepeer.scenario.load import (
    DEFAULT_SCENARIO,
    shipped_scenarios_dir,
)
from fakepeer.scenario.model import Expectation, Phase, Scenario

if TYPE_CHECKING:
    from fakepeer.pki.situation import Route


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "scenarios", help="list the scenario catalogue and explain one scenario",
        description="The catalogue of situations fakepeer can serve (scenarios/*.toml, plus "
                    "your own folders), each with what a correctly configured SBC does.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    lst = actions.add_parser("list", help="every scenario: name, expected reaction, purpose")
    lst.add_argument("--json", action="store_true", help="one JSON object per scenario")
    add_scenarios_option(lst)
    lst.set_defaults(runner=_list)

    show = actions.add_parser("show", help="what a scenario serves and expects, its phases, "
                                           "and the roots to import")
    show.add_argument("name", help="a scenario name from `fakepeer scenarios list`")
    show.add_argument("--no-chain", action="store_true",
                      help="do not build the certificates (no store needed); describe only")
    add_scenarios_option(show)
    add_store_options(show)
    show.set_defaults(runner=_show)


# --- list ---------------------------------------------------------------------------


def _is_shipped(scenario: Scenario, shipped: Path) -> bool:
    return scenario.source is not None and scenario.source.parent == shipped


def _list(args: argparse.Namespace, env: Environment) -> ExitStatus:
    catalogue = open_catalogue(args, env)
    shipped = shipped_scenarios_dir()
    names = sorted(catalogue)
    if args.json:
        for name in names:
            env.say(json.dumps(_as_json(catalogue[name], shipped)))
        return ExitStatus.SUCCESS
    if not names:
        env.warn("no scenarios found")
        return ExitStatus.SUCCESS
    shown = {n: n + ("" if _is_shipped(catalogue[n], shipped) else " *") for n in names}
    name_width = max(len("NAME"), *(len(s) for s in shown.values()))
    expected = {n: catalogue[n].expectation.summary() for n in names}
    expect_width = max(len("EXPECTED"), *(len(e) for e in expected.values()))
    env.say(f"{'NAME':<{name_width}}  {'EXPECTED':<{expect_width}}  PURPOSE")
    for name in names:
        env.say(f"{shown[name]:<{name_width}}  {expected[name]:<{expect_width}}  "
                f"{catalogue[name].purpose}")
    env.say()
    user = sum(1 for n in names if not _is_shipped(catalogue[n], shipped))
    env.say(f"{len(names)} scenarios" + (f" (* {user} from your folders)" if user else "")
            + f"; `fakepeer serve` with no options serves {DEFAULT_SCENARIO}.")
    env.say("`fakepeer scenarios show NAME` tells what one serves, expects and needs.")
    return ExitStatus.SUCCESS


def _as_json(scenario: Scenario, shipped: Path) -> dict[str, object]:
    expectation = scenario.expectation
    return {
        "name": scenario.name, "purpose": scenario.purpose, "expect": scenario.expect,
        "reaction": expectation.reaction, "alert": expectation.alert, "by": expectation.by,
        "sip_status": expectation.sip_status, "profile": scenario.profile,
        "era": scenario.era, "path": scenario.path, "defects": list(scenario.defects),
        "phases": [phase.name for phase in scenario.phases],
        "names": [override.name for override in scenario.names],
        "source": str(scenario.source) if scenario.source else None,
        "shipped": _is_shipped(scenario, shipped),
    }


# --- show ---------------------------------------------------------------------------


def _row(label: str, value: str) -> str:
    """A label column 16 wide; a longer label keeps two spaces before its value."""
    return f"{label:<16}{value}" if len(label) < 16 else f"{label}  {value}"


def _label(scenario: Scenario) -> str:
    from fakepeer.pki import mirrors

    path = scenario.path or mirrors.ERAS[scenario.era].default_path
    extra = f" +{'+'.join(scenario.defects)}" if scenario.defects else ""
    return f"{scenario.era}/{path}{extra}"


def _served(scenario: Scenario) -> Iterator[tuple[str, str | None, Scenario, Expectation]]:
    """(phase name, SNI name or None, what is served, what a correct SBC does there) for
    every phase and name."""
    from fakepeer.realize import expectation_of, name_expectation

    for phase, effective in scenario.timeline():
        yield phase.name, None, effective, expectation_of(effective)
        for override in effective.names:
            yield (phase.name, override.name, override.apply(effective),
                   name_expectation(override, effective))


def _route(scenario: Scenario) -> Route:
    from fakepeer.pki.situation import chain_route

    return chain_route(scenario.era, scenario.path, scenario.defects)


def _sni_line(name: str, served: Scenario, expectation: Expectation) -> str:
    """One SNI name: the chain it gets, where that anchors, what a correct SBC does."""
    return (f"SNI {name}: {_label(served)} (anchor {_route(served).path.anchor}); "
            f"expect {expectation.summary()}")


def _tls_lines(scenario: Scenario) -> list[str]:
    from fakepeer.profiles import profile_named

    base = profile_named(scenario.profile).server_policy
    spec = scenario.tls

    def text(value: object) -> str:
        return ":".join(value) if isinstance(value, tuple) else str(value)

    def line(label: str, value: object, default: object) -> str:
        if value is None:
            return _row(f"TLS {label}", f"{text(default)}  (profile default)")
        return _row(f"TLS {label}", text(value))

    base_ca_list = base.ca_list if isinstance(base.ca_list, str) else \
        f"{len(base.ca_list)} names"
    served = base.with_version_bounds(spec.min_version, spec.max_version)
    versions = f"{served.min_version} .. {served.max_version}"
    lines = [
        line("versions", versions if spec.min_version or spec.max_version else None, versions),
        line("ciphers", spec.ciphers, base.ciphers),
        line("groups", spec.groups, base.groups or "OpenSSL defaults"),
        line("client cert", spec.client_certificate, base.client_certificate)
        + (", clientAuth EKU not required" if spec.tolerate_missing_client_auth else ""),
        line("CA list", spec.ca_list, base_ca_list),
    ]
    if spec.insecure_security_level is not None:
        lines.append(_row("TLS insecure", "OpenSSL security level "
                          f"{spec.insecure_security_level}"))
    return lines


def _sip_line(scenario: Scenario) -> str:
    sip = scenario.sip
    if sip.options_action == "ignore":
        options = "OPTIONS never answered"
    elif sip.options_action == "reset":
        options = "OPTIONS answered with a TCP reset"
    else:
        delay = f" after {sip.options_delay:g} s" if sip.options_delay else ""
        options = f"OPTIONS answered {sip.options_status}{delay}"
    domains = ", ".join(sip.tenant_domains) if sip.tenant_domains else \
        "any the SBC certificate proves"
    return (f"{options}; INVITE {sip.invite_status}; tenant domains: {domains}; dial-back "
            f"{'on' if sip.dialback else 'off'}")


def _expect_lines(expectation: Expectation) -> list[str]:
    if expectation.reaction == "accept":
        what = "accept: TLS completes, OPTIONS get 200 OK, the trunk is Active"
    elif expectation.reaction == "reject":
        who = {"sbc": "the SBC refuses fakepeer", "fakepeer": "fakepeer refuses the SBC",
               "either": "the handshake fails"}[expectation.by]
        what = f"reject: {who}" + (f" with alert {expectation.alert}" if expectation.alert
                                   else "")
    else:
        what = "mark down: TLS completes but SIP fails" + (
            f" ({expectation.sip_status})" if expectation.sip_status else "") + \
            "; the SBC takes the trunk out of service and fails over"
    lines = [_row("reaction", what)]
    for label, text in (("why", expectation.reason), ("before", expectation.setup)):
        for index, line in enumerate(text.strip().splitlines()):
            lines.append(_row(label if index == 0 else "", line.strip()))
    return lines


def _serving_lines(scenario: Scenario) -> list[str]:
    from fakepeer.pki import mirrors

    era = mirrors.ERAS[scenario.era]
    route = _route(scenario)
    path = route.path
    if route.rotated_from:
        which = f"{route.era.id}/{route.path_name} (rotated from {era.id})"
    else:
        which = f"{route.path_name}{' (default)' if scenario.path is None else ''}"
    lines = [_row("profile", scenario.profile),
             _row("era", f"{era.id}: {era.title}"),
             _row("chain path", f"{which}: leaf <- {' <- '.join(path.certificates)} <- "
                  f"{path.anchor}")]
    if path.source or path.note:
        lines.append(_row("", " ".join(part for part in (path.source, path.note) if part)))
    for fact in route.revocations:
        lines.append(_row("revoked", f"{fact.certificate} since {fact.date} "
                          f"({fact.reason.replace('_', ' ')}) {fact.source}"))
    for text in scenario.defects:
        info = vocabulary.parse_defect(text).defect
        code = f" (OpenSSL verify error {info.verify_error})" if info.verify_error else ""
        lines.append(_row("defect", f"{text}: {info.summary}{code}"))
    if not scenario.defects:
        lines.append(_row("defects", "none"))
    return lines


def _phase_line(index: int, phase: Phase, effective: Scenario) -> list[str]:
    lines = [f"{index + 1}. {phase.name} (ends {phase.ends}): {_label(effective)}"]
    if phase.description:
        lines.append(f"   {phase.description.strip()}")
    from fakepeer.realize import name_expectation

    for override in effective.names:
        lines.append("   " + _sni_line(override.name, override.apply(effective),
                                      name_expectation(override, effective)))
    if phase.sip is not None:
        lines.append(f"   SIP: {_sip_line(effective)}")
    if phase.tls is not None:
        lines += [f"   {line}" for line in _tls_lines(effective)]
    if phase.expectation is not None:
        lines.append(f"   expect {phase.expectation.summary()}")
    return lines


def _roots_lines(scenario: Scenario) -> list[str]:
    """Every root the scenario can anchor at (all phases and names), which chains
    anchor there, the roots recommended beside them, and the one export command."""
    from fakepeer.pki import mirrors
    from fakepeer.pki.model import CertificateId
    from fakepeer.realize import roots_export_command, routes_of

    anchors: dict[str, list[str]] = {}
    for _, _, route in routes_of(scenario):
        eras_of_anchor = anchors.setdefault(route.path.anchor, [])
        if route.era.id not in eras_of_anchor:
            eras_of_anchor.append(route.era.id)
    eras = list(dict.fromkeys(e for era_ids in anchors.values() for e in era_ids))
    lines = [f"{mirrors.CAS[CertificateId.parse(anchor).ca].common_name} [{anchor}] (anchor "
             f"of the {' and '.join(era_ids)} chain{'s' if len(era_ids) > 1 else ''})"
             for anchor, era_ids in anchors.items()]
    recommended: list[str] = []
    for era_id in eras:
        extra = [r for r in mirrors.ERAS[era_id].recommended_roots
                 if r not in anchors and r not in recommended]
        if extra:
            lines.append(f"also recommended for {era_id}: "
                         + ", ".join(mirrors.CAS[r].common_name for r in extra))
            recommended += extra
    lines.append(f"export:  {roots_export_command(scenario)}")
    return lines


def _setup_lines(scenario: Scenario) -> list[str]:
    """What each other SBC set-up does against every phase and name, grouped by outcome."""
    from fakepeer.realize import expectation_for_setup, revoked_on

    lines = []
    for setup in vocabulary.SBC_SETUPS.values():
        outcomes: dict[str, list[str]] = {}
        for phase, name, served, expectation in _served(scenario):
            outcome = expectation_for_setup(expectation, _route(served).path.anchor,
                                            revoked_on(served), setup.name).summary()
            where = [f"phase {phase}"] if scenario.phases else []
            where.append(f"SNI {name}" if name else "other names")
            outcomes.setdefault(outcome, []).append(" ".join(where))
        text = outcome if len(outcomes) == 1 else "; ".join(
            f"{outcome} on {', '.join(wheres)}" for outcome, wheres in outcomes.items())
        lines.append(_row(setup.name, f"{text} ({setup.summary})"))
    return lines


def describe(scenario: Scenario) -> list[str]:
    """Everything ``show`` prints that needs no certificates, in reading order."""
    lines = [f"scenario {scenario.name}: {scenario.purpose}"]
    if scenario.source is not None:
        lines.append(f"  file {scenario.source}")
    lines += [f"  {line.strip()}" for line in scenario.description.strip().splitlines()]
    lines += ["", "Serves"]
    lines += [f"  {line}" for line in _serving_lines(scenario)]
    lines += [f"  {line}" for line in _tls_lines(scenario)]
    lines.append(f"  {_row('SIP', _sip_line(scenario))}")
    from fakepeer.realize import name_expectation

    for override in scenario.names:
        lines.append("  " + _sni_line(override.name, override.apply(scenario),
                                      name_expectation(override, scenario)))
    if scenario.phases:
        lines += ["", "Timeline (each phase overrides what is served above)"]
        for index, phase in enumerate(scenario.phases):
            lines += [f"  {line}" for line in _phase_line(index, phase,
                                                          scenario.at_phase(index))]
    lines += ["", "Expect (what a correctly configured SBC does)"]
    lines += [f"  {line}" for line in _expect_lines(scenario.expectation)]
    lines += ["", "Roots the SBC must trust"]
    lines += [f"  {line}" for line in _roots_lines(scenario)]
    lines += ["", "Other SBC set-ups (what each does against this scenario)"]
    lines += [f"  {line}" for line in _setup_lines(scenario)]
    return lines


def _show(args: argparse.Namespace, env: Environment) -> ExitStatus:
    scenario = open_catalogue(args, env, named=args.name).get_scenario(args.name)
    for line in describe(scenario):
        env.say(line)
    if args.no_chain:
        return ExitStatus.SUCCESS
    from fakepeer.pki import export
    from fakepeer.pki.chain import ServedChain
    from fakepeer.realize import realize_timeline
    from fakepeer.tls.inspect import summarize_certificate

    pki = open_pki(args, env.variables, env.cwd, read_only=True)  # a look writes nothing
    if not pki.store.certs_dir.is_dir():
        env.warn(f"note: no certificate store at {pki.store.root} yet: the certificates "
                 "below are made for this look only (nothing is written); `fakepeer "
                 "certs generate` or the first `serve` makes the ones it serves")
    users: dict[str, list[str]] = {}
    chains: dict[str, ServedChain] = {}
    for phase, realized in realize_timeline(scenario, pki):
        for sni, chain in ((None, realized.chain), *realized.chains_by_name.items()):
            chains.setdefault(chain.label, chain)
            where = ", ".join(part for part in (
                f"phase {phase.name}" if scenario.phases else "", f"SNI {sni}" if sni else "")
                if part)
            users.setdefault(chain.label, []).append(where)
    for label, chain in chains.items():
        used = [u for u in users[label] if u]
        env.say()
        env.say(f"Chain sent: {label}" + (f" ({'; '.join(used)})" if used else ""))
        for line in export.s_client_chain(chain.sent):
            env.say(f"  {line}")
        leaf = summarize_certificate(chain.leaf)
        env.say(f"  leaf names: {', '.join((*leaf.dns_names, *leaf.ip_addresses)) or 'none'}")
        for anchor in chain.trust_anchors:
            env.say(f"  trust anchor: {export.openssl_oneline(anchor.subject)}")
            env.say(f"    SHA-1 {export.colon_thumbprint(anchor)}")
    return ExitStatus.SUCCESS
