"""What ``certs generate`` realises: the era x path x defect matrix and the catalogue."""

from __future__ import annotations

from fakepeer import generation, vocabulary
from fakepeer.scenario.load import load_catalogue, scenario_dirs
from tests.conftest import make_pki


def test_the_matrix_is_one_scenario_per_path_and_defect():
    """Every path of an era, then every defect (rotations name the next era)."""
    plain = generation.era_scenarios("microsoft-2023")
    assert [s.path for s in plain] == list(vocabulary.ERAS["microsoft-2023"].paths)
    full = generation.era_scenarios("genesys", with_defects=True)
    assert len(full) == len(vocabulary.ERAS["genesys"].paths) + len(vocabulary.DEFECTS)
    assert {s.profile for s in full} == {"genesys"}
    assert ("rotated-root=microsoft-2020",) in [s.defects for s in full]


def test_eras_served_follow_phases_names_and_rotations():
    """The eras of a catalogue scenario include its phases', names' and rotations'."""
    catalogue = load_catalogue(scenario_dirs())
    assert generation.eras_served(catalogue["staged-rollout"]) == {
        "microsoft-2023", "microsoft-2026"}
    assert generation.eras_served(catalogue["24-hour-test-flip"]) == {
        "microsoft-2020", "microsoft-2023"}


def test_a_complete_store_makes_nothing_and_says_so(session_store):
    """On the session's complete store every stage reports 0 certificates made."""
    lines: list[str] = []
    pki = make_pki(session_store)
    generation.generate(pki, ["microsoft-2026"], with_defects=True, progress=lines.append)
    assert pki.generated == []
    assert lines[0].startswith("CAs: ") and lines[1].startswith("microsoft-2026: ")
    assert lines[-1].startswith("catalogue: ")
    assert all(line.endswith("(0 made)") or "(0 certificates made)" in line for line in lines)
