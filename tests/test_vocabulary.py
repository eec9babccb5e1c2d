"""The shared vocabulary: its defect checks, and the helpers generic code reads instead
of naming a defect or an era."""

from __future__ import annotations

import pytest

from fakepeer import vocabulary
from fakepeer.vocabulary import DefectError, check_defects


@pytest.mark.parametrize(("defects", "index", "words"), [
    (("expird-leaf",), 0,
     "unknown defect 'expird-leaf' (did you mean 'expired-leaf'?); known: expired-leaf"),
    (("revoked", "expired-leaf=now"), 1, "takes no argument (got 'now')"),
    (("rotated-root",), 0, "rotated-root=ERA, ERA one of microsoft-2020"),
    (("rotated-root=microsoft-2099",), 0, "unknown era 'microsoft-2099'; known:"),
    (("rotated-root=microsft-2023",), 0,
     "unknown era 'microsft-2023' (did you mean 'microsoft-2023'?); known:"),
    (("rotated-root=microsoft-2026",), 0, "already served"),
    (("ip-only-san=sip.example",), 0, "'sip.example' is not an IP address"),
    (("wrong-san=-bad-",), 0, "is not a DNS host name"),
    (("revoked", "revoked"), 1, "defect revoked is given twice"),
    (("leaf-only", "with-root"), None, "leaf-only and with-root each choose"),
])
def test_bad_defect_lists_say_which_defect_and_why(defects, index, words):
    """Each rule of a defect list fails with the position of the defect and the rule."""
    with pytest.raises(DefectError) as caught:
        check_defects(defects, "microsoft-2026")
    assert caught.value.index == index
    assert words in caught.value.problem
    assert isinstance(caught.value, ValueError)


def test_a_good_list_is_looked_up_with_its_arguments():
    """Arguments are split off (an empty one is none) and kept with their defect."""
    uses = check_defects(("wrong-san=sip.lab.example", "ip-only-san=", "rotated-root=genesys"),
                         "microsoft-2023")
    assert [(u.defect.name, u.argument) for u in uses] == [
        ("wrong-san", "sip.lab.example"), ("ip-only-san", None), ("rotated-root", "genesys")]
    assert uses[0].text == "wrong-san=sip.lab.example"


def test_every_defect_has_an_example_its_list_accepts():
    """defect_example gives each defect a text check_defects accepts, in every era."""
    for era in vocabulary.ERAS:
        for name in vocabulary.DEFECTS:
            check_defects((vocabulary.defect_example(name, era),), era)
    assert vocabulary.defect_example("rotated-root", "genesys") == "rotated-root=microsoft-2020"


def test_the_era_served_follows_a_defect_that_moves_it():
    """chain_era reads the era-moving defect's argument; other defects keep the era."""
    assert vocabulary.chain_era("microsoft-2023", ("revoked", "rotated-root=microsoft-2026")) \
        == ("microsoft-2026", True)
    assert vocabulary.chain_era("genesys", ("revoked",)) == ("genesys", False)


def test_security_level_0_rule():
    """SHA-1 and RSA-1024 defects and TLS 1.0/1.1 need level 0; the rest do not."""
    needs = vocabulary.needs_security_level_0
    assert needs(("sha1-signature",)) and needs(("weak-key",))
    assert needs((), "TLSv1") and needs((), "TLSv1.1")
    assert not needs(("expired-leaf", "with-root"), "TLSv1.2")
    assert not needs(())


def test_a_rotation_is_not_what_a_correct_sbc_refuses():
    """Defects with a verify error are refused by a correct SBC, except a move of era."""
    refused = {d.name for d in vocabulary.DEFECTS.values() if d.refused_by_correct_sbc}
    assert "rotated-root" not in refused
    assert {"expired-leaf", "untrusted-root", "leaf-only"} <= refused
    assert "reversed" not in refused


def test_profiles_and_eras_agree():
    """Each profile's default era belongs to it, and every era names a known profile."""
    for terms in vocabulary.PROFILES.values():
        assert vocabulary.ERAS[terms.default_era].profile == terms.name
    assert {e.profile for e in vocabulary.ERAS.values()} == set(vocabulary.PROFILE_NAMES)
    assert vocabulary.default_era_of(None) == vocabulary.DEFAULT_ERA
    assert vocabulary.default_era_of("genesys") == "genesys"


def test_the_pki_refuses_names_the_vocabulary_does_not_have(monkeypatch):
    """pki.mirrors and pki.defects check at import that they cover exactly the
    vocabulary's eras, paths and defects; a typo names the difference."""
    from fakepeer.pki import defects, mirrors

    mirrors._check_names()
    defects.check_names(defects.APPLY)
    with pytest.raises(ValueError, match=r"missing \['rotated-root'\], not in the vocabulary "
                                         r"\['rotated-roots'\]"):
        defects.check_names([*(n for n in defects.APPLY if n != "rotated-root"),
                             "rotated-roots"])
    eras = dict(mirrors.ERAS)
    eras["microsoft-2062"] = eras.pop("microsoft-2026")
    monkeypatch.setattr(mirrors, "ERAS", eras)
    with pytest.raises(ValueError, match=r"eras: missing \['microsoft-2026'\], not in the "
                                         r"vocabulary \['microsoft-2062'\]"):
        mirrors._check_names()
