# -*- test-case-name: tests.test_generation -*-
"""What ``fakepeer certs generate`` makes, so that serving never waits for a key.

First every CA the eras use (:func:`fakepeer.pki.catalogue.generate_cas`: all keys at
once, in parallel), then the served chains, each made by realising a scenario exactly
as ``serve`` will: the era x path matrix (x every defect with ``with_defects``) written
as scenarios, and the shipped catalogue's scenarios, every phase and SNI name, whose
eras were asked for. A second run with the same store makes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from fakepeer import vocabulary
from fakepeer.pki.catalogue import generate_cas
from fakepeer.pki.hierarchy import Pki
from fakepeer.realize import realize_timeline
from fakepeer.scenario.load import load_catalogue, scenario_dirs
from fakepeer.scenario.model import Scenario


def era_scenarios(era_id: str, *, with_defects: bool = False) -> list[Scenario]:
    """One scenario per chain path of ``era_id`` and, with ``with_defects``, one per
    defect (an era argument names the next era)."""
    terms = vocabulary.ERAS[era_id]
    scenarios = [Scenario(f"{era_id}.{path}", profile=terms.profile, era=era_id, path=path)
                 for path in terms.paths]
    if with_defects:
        scenarios += [Scenario(f"{era_id}.{name}", profile=terms.profile, era=era_id,
                               defects=(vocabulary.defect_example(name, era_id),))
                      for name in vocabulary.DEFECTS]
    return scenarios


def eras_served(scenario: Scenario) -> set[str]:
    """Every era whose chains ``scenario`` serves, in any phase, to any SNI name."""
    eras = set()
    for _, served in scenario.timeline():
        for variant in (served, *(o.apply(served) for o in served.names)):
            eras |= {variant.era, vocabulary.chain_era(variant.era, variant.defects)[0]}
    return eras


def _realize_all(pki: Pki, scenarios: Iterable[Scenario]) -> int:
    """Realise every phase of every scenario; the number of served chains."""
    chains = 0
    for scenario in scenarios:
        for _, realized in realize_timeline(scenario, pki):
            chains += 1 + len(realized.chains_by_name)
    return chains


def generate(pki: Pki, era_ids: Sequence[str], *, all_issuers: bool = False,
             with_defects: bool = False, catalogue: Iterable[Scenario] | None = None,
             progress: Callable[[str], None] = lambda line: None) -> None:
    """Make everything asked for (``catalogue`` defaults to the shipped scenarios)."""
    before = len(pki.generated)
    ca_ids = generate_cas(pki, era_ids, all_issuers=all_issuers)
    progress(f"CAs: {len(ca_ids)} certificates ({len(pki.generated) - before} made)")
    for era_id in era_ids:
        before = len(pki.generated)
        chains = _realize_all(pki, era_scenarios(era_id, with_defects=with_defects))
        progress(f"{era_id}: {chains} served chains "
                 f"({len(pki.generated) - before} certificates made)")
    if catalogue is None:
        catalogue = load_catalogue(scenario_dirs()).values()
    chosen = [s for s in catalogue if eras_served(s) <= set(era_ids)]
    before = len(pki.generated)
    chains = _realize_all(pki, chosen)
    progress(f"catalogue: {len(chosen)} scenarios, {chains} served chains "
             f"({len(pki.generated) - before} certificates made)")
