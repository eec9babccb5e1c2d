"""How each named defect is applied: the vocabulary says what the defects are
(:data:`fakepeer.vocabulary.DEFECTS`: summary, argument, verify error), this module how
each one changes a ``LeafPlan`` (what to issue and send) before anything is signed.

So defects compose: ``expired-leaf`` + ``leaf-only`` is an expired leaf sent without its
intermediate. ``APPLY`` covers exactly the vocabulary's defects (checked at import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from fakepeer import vocabulary
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import ChainPath, Era, LeafProfile, SanEntry, dns

CHAIN_SHAPES = ("full", "leaf-only", "reversed", "with-root", "with-extra", "both-cross-signed")


@dataclass
class LeafPlan:
    """Everything needed to issue one leaf and assemble what is sent with it."""

    era: Era
    path_name: str
    path: ChainPath
    profile: LeafProfile
    now: datetime
    validity: tuple[datetime, datetime] | None = None
    state: str = "valid"
    self_signed: bool = False
    sha1: bool = False
    expired_issuer: bool = False
    impostor_root: bool = False
    revoked: bool = False
    shape: str = "full"
    defects: list[str] = field(default_factory=list)


#: Changes a plan for one defect, given the defect's argument (``None``: its default).
Apply = Callable[[LeafPlan, str | None], None]


def _expired_leaf(plan: LeafPlan, _: str | None) -> None:
    plan.validity = (plan.now - timedelta(days=120), plan.now - timedelta(days=1))
    plan.state = "expired"


def _not_yet_valid(plan: LeafPlan, _: str | None) -> None:
    plan.validity = (plan.now + timedelta(days=30), plan.now + timedelta(days=200))
    plan.state = "not-yet-valid"


def _expired_intermediate(plan: LeafPlan, _: str | None) -> None:
    plan.expired_issuer = True


def _wrong_san(plan: LeafPlan, name: str | None) -> None:
    name = name or "wrong.host.fakepeer.invalid"
    plan.profile = plan.profile.but(sans=dns(name), subject=_with_cn(plan.profile, name))


def _cn_only(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(sans=())


def _ip_only(plan: LeafPlan, address: str | None) -> None:
    address = address or "127.0.0.1"
    plan.profile = plan.profile.but(sans=(SanEntry("ip", address),),
                                    subject=_with_cn(plan.profile, address))


def _wildcard_too_deep(plan: LeafPlan, _: str | None) -> None:
    # One label of wildcard may stand for one label only: *.microsoft.com does not cover
    # sip.pstnhub.microsoft.com. Built from the first DNS name's parent's parent.
    first = next((s.value for s in plan.profile.sans if s.kind == "dns"), "sip.example.com")
    labels = first.lstrip("*.").split(".")
    wildcard = "*." + ".".join(labels[2:] if len(labels) > 3 else labels[1:])
    plan.profile = plan.profile.but(sans=dns(wildcard), subject=_with_cn(plan.profile, wildcard))


def _self_signed(plan: LeafPlan, _: str | None) -> None:
    plan.self_signed = True


def _untrusted_root(plan: LeafPlan, _: str | None) -> None:
    plan.impostor_root = True


def _sha1(plan: LeafPlan, _: str | None) -> None:
    plan.sha1 = True


def _weak_key(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(key=KeySpec("RSA", 1024))


def _no_server_auth(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(eku=tuple(e for e in plan.profile.eku if e != "serverAuth")
                                    or ("clientAuth",))


def _no_client_auth(plan: LeafPlan, _: str | None) -> None:
    plan.profile = plan.profile.but(eku=tuple(e for e in plan.profile.eku if e != "clientAuth")
                                    or ("serverAuth",))


def _revoked(plan: LeafPlan, _: str | None) -> None:
    plan.revoked = True


def _shape(shape: str) -> Callable[[LeafPlan, str | None], None]:
    def apply(plan: LeafPlan, _: str | None) -> None:
        plan.shape = shape
    return apply


def _with_cn(profile: LeafProfile, value: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, value if k == "CN" else v) for k, v in profile.subject)


def _moves_era(plan: LeafPlan, _: str | None) -> None:
    """Nothing to change in the leaf: the situation picks the other era's path (the
    vocabulary's ``moves_era``) before the plan is made."""


_APPLY: dict[str, Apply] = {
    "expired-leaf": _expired_leaf,
    "not-yet-valid": _not_yet_valid,
    "expired-intermediate": _expired_intermediate,
    "wrong-san": _wrong_san,
    "cn-only": _cn_only,
    "ip-only-san": _ip_only,
    "wildcard-too-deep": _wildcard_too_deep,
    "self-signed-leaf": _self_signed,
    "untrusted-root": _untrusted_root,
    "rotated-root": _moves_era,
    "sha1-signature": _sha1,
    "weak-key": _weak_key,
    "no-server-auth": _no_server_auth,
    "no-client-auth": _no_client_auth,
    "revoked": _revoked,
    "leaf-only": _shape("leaf-only"),
    "missing-intermediate": _shape("leaf-only"),
    "reversed": _shape("reversed"),
    "with-root": _shape("with-root"),
    "with-extra": _shape("with-extra"),
    "both-cross-signed": _shape("both-cross-signed"),
}


def check_names(applied: Iterable[str]) -> None:
    """``applied`` are exactly the vocabulary's defects: a typo fails at import, naming
    the difference, instead of shipping a defect that cannot be served."""
    ours, theirs = set(applied), set(vocabulary.DEFECTS)
    if ours != theirs:
        raise ValueError("fakepeer.pki.defects does not apply exactly the vocabulary's "
                         f"defects: missing {sorted(theirs - ours)}, not in the vocabulary "
                         f"{sorted(ours - theirs)}")


check_names(_APPLY)
APPLY: Mapping[str, Apply] = MappingProxyType(_APPLY)


def apply_defects(plan: LeafPlan, uses: Sequence[vocabulary.DefectUse]) -> LeafPlan:
    """A copy of ``plan`` with each (checked) defect applied in order."""
    plan = replace(plan, defects=list(plan.defects))
    for use in uses:
        APPLY[use.defect.name](plan, use.argument)
        plan.defects.append(use.text)
    return plan
