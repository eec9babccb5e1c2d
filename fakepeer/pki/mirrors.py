"""The real peers' PKIs, as data: every mirrored CA, leaf profile and era.

To add an era: declare its new CAs in ``CAS`` (copy the nearest real one and change what
differs), a ``LeafProfile`` if the leaf changed, and an ``Era`` with its chain paths in
``ERAS``. Facts come from ``shared/reference/real-peers.md``; each entry's ``source`` says
how sure we are: [C] read from the real certificate, [V] vendor documentation,
[S] secondary source, [?] not confirmed (kept configurable, never asserted by tests).
"""

from __future__ import annotations

from datetime import date

from fakepeer import vocabulary
from fakepeer.pki.keys import KeySpec
from fakepeer.pki.model import CaRevocation, CaSpec, ChainPath, Era, LeafProfile, dns

RSA2048 = KeySpec("RSA", 2048)
RSA4096 = KeySpec("RSA", 4096)
P384 = KeySpec("EC", 384)

_DIGICERT_OU = (("C", "US"), ("O", "DigiCert Inc"), ("OU", "www.digicert.com"))
_DIGICERT_G5 = (("C", "US"), ("O", "DigiCert, Inc."))
_MICROSOFT = (("C", "US"), ("O", "Microsoft Corporation"))
_DIGICERT = (("C", "US"), ("O", "DigiCert Inc"))

# CA/Browser Forum policy OIDs (domain-validated, organization-validated, EV).
DV, OV, EV = "2.23.140.1.2.1", "2.23.140.1.2.2", "2.23.140.1.1"
ANY_POLICY = "2.5.29.32.0"

#: Extension order of each real root, read with ``openssl x509 -text`` [C].
_ROOT_SKI_BC_KU = ("ski", "bc", "ku")
_ROOT_KU_BC_SKI_AKI = ("ku", "bc", "ski", "aki")
_ROOT_BC_KU_SKI = ("bc", "ku", "ski")
_ROOT_SKI_KU_BC = ("ski", "ku", "bc")
_ROOT_MS = ("ku", "bc", "ski", "ms-ca-version")
#: Issuing-CA extension order as DigiCert signs them (Azure TLS Issuing CAs, TLS Root G2) [C].
_ISSUING = ("bc", "ski", "aki", "ku", "eku", "aia", "cdp", "policies")
#: As Baltimore signed Microsoft RSA TLS CA 01/02 [C].
_BALTIMORE_ISSUED = ("ski", "aki", "ku", "eku", "bc", "aia", "cdp", "policies")
#: As Microsoft's AD CS signs the TLS G2 issuing CAs [C, OCSP 02].
_MICROSOFT_ISSUED = ("ku", "ms-ca-version", "ski", "policies", "eku", "ms-template", "bc", "aki",
                     "cdp", "aia")

ROOTS: tuple[CaSpec, ...] = (
    CaSpec(
        id="baltimore-cybertrust-root",
        subject=(("C", "IE"), ("O", "Baltimore"), ("OU", "CyberTrust"),
                 ("CN", "Baltimore CyberTrust Root")),
        key=RSA2048, hash="sha256", real_hash="sha1", extensions=_ROOT_SKI_BC_KU,
        path_length=3, key_usage=("key_cert_sign", "crl_sign"),
        real_validity=(date(2000, 5, 12), date(2025, 5, 12)),
        system_file="Baltimore_CyberTrust_Root.pem", source="[C]",
    ),
    CaSpec(
        id="digicert-global-root-ca",
        subject=(*_DIGICERT_OU, ("CN", "DigiCert Global Root CA")),
        key=RSA2048, hash="sha256", real_hash="sha1", extensions=_ROOT_KU_BC_SKI_AKI,
        real_validity=(date(2006, 11, 10), date(2031, 11, 10)),
        system_file="DigiCert_Global_Root_CA.pem", source="[C]",
    ),
    CaSpec(
        id="digicert-global-root-g2",
        subject=(*_DIGICERT_OU, ("CN", "DigiCert Global Root G2")),
        key=RSA2048, hash="sha256", extensions=_ROOT_BC_KU_SKI,
        real_validity=(date(2013, 8, 1), date(2038, 1, 15)),
        system_file="DigiCert_Global_Root_G2.pem", source="[C]",
    ),
    CaSpec(
        id="digicert-global-root-g3",
        subject=(*_DIGICERT_OU, ("CN", "DigiCert Global Root G3")),
        key=P384, hash="sha384", extensions=_ROOT_BC_KU_SKI,
        real_validity=(date(2013, 8, 1), date(2038, 1, 15)),
        system_file="DigiCert_Global_Root_G3.pem", source="[C]",
    ),
    CaSpec(
        id="digicert-tls-rsa4096-root-g5",
        subject=(*_DIGICERT_G5, ("CN", "DigiCert TLS RSA4096 Root G5")),
        key=RSA4096, hash="sha384", extensions=_ROOT_SKI_KU_BC,
        real_validity=(date(2021, 1, 15), date(2046, 1, 14)),
        system_file="DigiCert_TLS_RSA4096_Root_G5.pem", source="[C]",
    ),
    CaSpec(
        id="digicert-tls-ecc-p384-root-g5",
        subject=(*_DIGICERT_G5, ("CN", "DigiCert TLS ECC P384 Root G5")),
        key=P384, hash="sha384", extensions=_ROOT_SKI_KU_BC,
        real_validity=(date(2021, 1, 15), date(2046, 1, 14)),
        system_file="DigiCert_TLS_ECC_P384_Root_G5.pem", source="[C]",
    ),
    CaSpec(
        id="microsoft-rsa-root-2017",
        subject=(*_MICROSOFT, ("CN", "Microsoft RSA Root Certificate Authority 2017")),
        key=RSA4096, hash="sha384", extensions=_ROOT_MS,
        real_validity=(date(2019, 12, 18), date(2042, 7, 18)),
        system_file="Microsoft_RSA_Root_Certificate_Authority_2017.pem", source="[C]",
    ),
    CaSpec(
        id="microsoft-ecc-root-2017",
        subject=(*_MICROSOFT, ("CN", "Microsoft ECC Root Certificate Authority 2017")),
        key=P384, hash="sha384", extensions=_ROOT_MS,
        real_validity=(date(2019, 12, 18), date(2042, 7, 18)),
        system_file="Microsoft_ECC_Root_Certificate_Authority_2017.pem", source="[C]",
    ),
    CaSpec(
        id="digicert-high-assurance-ev-root",
        subject=(*_DIGICERT_OU, ("CN", "DigiCert High Assurance EV Root CA")),
        key=RSA2048, hash="sha256", real_hash="sha1", extensions=_ROOT_KU_BC_SKI_AKI,
        real_validity=(date(2006, 11, 10), date(2031, 11, 10)),
        system_file="DigiCert_High_Assurance_EV_Root_CA.pem", source="[C]",
    ),
)

def _ms_rsa_tls_ca(number: str) -> CaSpec:
    return CaSpec(
        id=f"microsoft-rsa-tls-ca-{number}",
        subject=(*_MICROSOFT, ("CN", f"Microsoft RSA TLS CA {number}")),
        key=RSA4096, hash="sha256", extensions=_BALTIMORE_ISSUED,
        issuers=("baltimore-cybertrust-root",), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=(DV, OV, "1.3.6.1.4.1.311.42.1"),
        aia=("ocsp",),
        real_validity=(date(2020, 7, 21), date(2024, 10, 8)),
        source="[C]",
    )


def _azure_rsa(number: str) -> CaSpec:
    return CaSpec(
        id=f"azure-rsa-tls-issuing-ca-{number}",
        subject=(*_MICROSOFT, ("CN", f"Microsoft Azure RSA TLS Issuing CA {number}")),
        key=RSA4096, hash="sha384", extensions=_ISSUING,
        issuers=("digicert-global-root-g2", "microsoft-rsa-root-2017"), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=(DV, OV),
        real_validity=(date(2023, 6, 8), date(2026, 8, 25)),
        source="[C] as issued by DigiCert Global Root G2; [V] the Microsoft 2017 cross",
    )


def _azure_ecc(number: str) -> CaSpec:
    return CaSpec(
        id=f"azure-ecc-tls-issuing-ca-{number}",
        subject=(*_MICROSOFT, ("CN", f"Microsoft Azure ECC TLS Issuing CA {number}")),
        key=P384, hash="sha384", extensions=_ISSUING,
        issuers=("digicert-global-root-g3", "microsoft-ecc-root-2017"), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=(DV, OV),
        real_validity=(date(2023, 6, 8), date(2026, 8, 25)),
        source="[C] as issued by DigiCert Global Root G3; [V] the Microsoft 2017 cross",
    )


def _ms_g2_ocsp(kind: str, number: str, key: KeySpec) -> CaSpec:
    return CaSpec(
        id=f"microsoft-tls-g2-{kind.lower()}-ca-ocsp-{number}",
        subject=(*_MICROSOFT, ("CN", f"Microsoft TLS G2 {kind} CA OCSP {number}")),
        key=key, hash="sha384", extensions=_MICROSOFT_ISSUED,
        issuers=(f"microsoft-tls-{kind.lower()}-root-g2",), path_length=0,
        eku=("serverAuth",), policies=(OV,), aia=("ca_issuers", "ocsp"),
        real_validity=(date(2025, 8, 1), date(2029, 6, 3)),
        source="[C] RSA OCSP 02 (04-16 alike); [V] ECC 02-08 exist, details by analogy [?]",
    )


INTERMEDIATES: tuple[CaSpec, ...] = (
    _ms_rsa_tls_ca("01"),
    _ms_rsa_tls_ca("02"),
    *(_azure_rsa(n) for n in ("03", "04", "07", "08")),
    *(_azure_ecc(n) for n in ("03", "04", "07", "08")),
    # One key, several certificates (real-peers.md section 7): the new Microsoft roots
    # are cross-signed and also exist self-signed (``ca@ca``) with the same key and name.
    CaSpec(
        id="microsoft-tls-rsa-root-g2",
        subject=(*_MICROSOFT, ("CN", "Microsoft TLS RSA Root G2")),
        key=RSA4096, hash="sha384", extensions=_ISSUING,
        # The DigiCert G2 "xsign" is the certificate Microsoft publishes [C] and the only
        # cross Microsoft lists [V]. The G5 cross stands for the link to DigiCert TLS
        # RSA4096 Root G5 that field reports imply [S] and that nobody published [?]; the
        # 2017 cross is claimed, not listed by Microsoft [?]. Paths a lab can choose,
        # never the default.
        issuers=("digicert-global-root-g2", "microsoft-rsa-root-2017",
                 "digicert-tls-rsa4096-root-g5"),
        eku=("serverAuth",), policies=(OV,),
        real_validity=(date(2025, 5, 21), date(2029, 6, 19)),
        source="[C] the DigiCert G2 cross; [S] the self-signed twin; [?] the other crosses",
    ),
    CaSpec(
        id="microsoft-tls-ecc-root-g2",
        subject=(*_MICROSOFT, ("CN", "Microsoft TLS ECC Root G2")),
        key=P384, hash="sha384", extensions=_ISSUING,
        # Listed only under DigiCert Global Root G3 [V] (section 7 corrects section 2: not
        # under Microsoft ECC Root CA 2017, kept here as a [?] option only).
        issuers=("digicert-global-root-g3", "microsoft-ecc-root-2017",
                 "digicert-tls-ecc-p384-root-g5"),
        eku=("serverAuth",), policies=(OV,),
        real_validity=(date(2025, 5, 21), date(2029, 6, 19)),
        source="[V] the DigiCert G3 cross; [S] the self-signed twin; [?] the G5 and 2017 "
               "crosses; details by analogy with RSA [?]",
    ),
    _ms_g2_ocsp("RSA", "02", RSA4096),
    _ms_g2_ocsp("RSA", "04", RSA4096),
    _ms_g2_ocsp("ECC", "02", P384),
    # DigiCert issuing CAs behind Genesys Cloud BYOC edges [V: roots; ? which issuing CA].
    CaSpec(
        id="digicert-global-g2-tls-rsa-sha256-2020-ca1",
        subject=(*_DIGICERT, ("CN", "DigiCert Global G2 TLS RSA SHA256 2020 CA1")),
        key=RSA2048, hash="sha256", extensions=_ISSUING,
        issuers=("digicert-global-root-g2",), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=("2.16.840.1.114412.2.1", DV, OV),
        real_validity=(date(2021, 3, 30), date(2031, 3, 29)),
        source="[?] the usual DigiCert OV issuer under Global Root G2",
    ),
    CaSpec(
        id="digicert-global-g3-tls-ecc-sha384-2020-ca1",
        subject=(*_DIGICERT, ("CN", "DigiCert Global G3 TLS ECC SHA384 2020 CA1")),
        key=P384, hash="sha384", extensions=_ISSUING,
        issuers=("digicert-global-root-g3",), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=("2.16.840.1.114412.2.1", DV, OV),
        real_validity=(date(2021, 4, 14), date(2031, 4, 13)),
        source="[?] the usual DigiCert issuer under Global Root G3",
    ),
    # Revoked by DigiCert on 2026-05-15 [V, ALERT60/86: "it lacks serverAuth"]. Which
    # EKU it has is [?]: fakepeer gives it none (any purpose, as OpenSSL reads it), so
    # that a chain through it verifies and only a revocation check refuses it.
    CaSpec(
        id="digicert-global-ca-g2",
        subject=(*_DIGICERT, ("CN", "DigiCert Global CA G2")),
        key=RSA2048, hash="sha256", extensions=("bc", "ku", "ski", "aki", "aia", "cdp",
                                                "policies"),
        issuers=("digicert-global-root-g2",), path_length=0, policies=(ANY_POLICY,),
        real_validity=(date(2013, 8, 1), date(2028, 8, 1)),
        source="[V] revoked 2026-05-15; [?] its extensions and dates",
    ),
    # An issuing CA under DigiCert Global Root CA, for the chain Mozilla and Chrome stop
    # trusting on 2026-04-15 [V]. Which Microsoft chain anchors there is not public [?].
    CaSpec(
        id="digicert-tls-rsa-sha256-2020-ca1",
        subject=(*_DIGICERT, ("CN", "DigiCert TLS RSA SHA256 2020 CA1")),
        key=RSA2048, hash="sha256", extensions=_ISSUING,
        issuers=("digicert-global-root-ca",), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=("2.16.840.1.114412.2.1", DV, OV),
        real_validity=(date(2021, 4, 14), date(2031, 4, 13)),
        source="[?] the usual DigiCert issuer under Global Root CA",
    ),
    CaSpec(
        id="digicert-sha2-ev-server-ca",
        subject=(*_DIGICERT_OU, ("CN", "DigiCert SHA2 Extended Validation Server CA")),
        key=RSA2048, hash="sha256", extensions=_ISSUING,
        issuers=("digicert-high-assurance-ev-root",), path_length=0,
        eku=("serverAuth", "clientAuth"), policies=(ANY_POLICY,),
        real_validity=(date(2013, 10, 22), date(2028, 10, 22)),
        source="[?] the usual DigiCert EV issuer under High Assurance EV Root",
    ),
)

#: A private CA that no cloud trusts: the lab SBC certificate that must be refused.
LAB_UNTRUSTED = (
    CaSpec(
        id="fakepeer-untrusted-root",
        subject=(("C", "ZZ"), ("O", "fakepeer lab"), ("CN", "fakepeer Untrusted Lab Root")),
        key=RSA2048, hash="sha256", extensions=("bc", "ku", "ski"),
        source="fakepeer's own: stands for a private or non-program CA",
    ),
    CaSpec(
        id="fakepeer-untrusted-issuing-ca",
        subject=(("C", "ZZ"), ("O", "fakepeer lab"), ("CN", "fakepeer Untrusted Issuing CA")),
        key=RSA2048, hash="sha256", extensions=_ISSUING,
        issuers=("fakepeer-untrusted-root",), path_length=0,
        eku=("serverAuth", "clientAuth"),
        source="fakepeer's own",
    ),
)

CAS: dict[str, CaSpec] = {ca.id: ca for ca in (*ROOTS, *INTERMEDIATES, *LAB_UNTRUSTED)}

# --- leaves -------------------------------------------------------------------------------

_PSTNHUB = ("sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com",
            "sip3.pstnhub.microsoft.com", "*.pstnhub.microsoft.com")

#: The SIP proxy leaf [?]: SANs and key are not published; this is the reference default.
MICROSOFT_PROXY_LEAF = LeafProfile(
    id="pstnhub",
    subject=(("C", "US"), ("ST", "WA"), ("L", "Redmond"), ("O", "Microsoft Corporation"),
             ("CN", "sip.pstnhub.microsoft.com")),
    sans=dns(*_PSTNHUB),
    source="[?] reference default: RSA 2048, sha384, 199 days",
)

#: Genesys BYOC edge leaf [?]: serverAuth only since the week of 2026-03-09 [V].
GENESYS_EDGE_LEAF = LeafProfile(
    id="byoc-edge",
    subject=(("C", "US"), ("ST", "Indiana"), ("L", "Indianapolis"),
             ("O", "Genesys Cloud Services, Inc."), ("CN", "*.byoc.usw2.pure.cloud")),
    sans=dns("*.byoc.usw2.pure.cloud", "byoc.usw2.pure.cloud"),
    hash="sha256",
    eku=("serverAuth",),
    source="[V] serverAuth-only; [?] subject, SANs",
)


def _microsoft_era(era_id: str, title: str, leaf: LeafProfile, paths: dict[str, ChainPath],
                   siblings: tuple[str, ...], notes: tuple[str, ...]) -> Era:
    return Era(id=era_id, title=title, leaf=leaf, paths=paths, sibling_issuers=siblings,
               recommended_roots=vocabulary.SEVEN_ROOTS if era_id.endswith("2026") else (),
               notes=notes)


ERAS: dict[str, Era] = {
    era.id: era
    for era in (
        _microsoft_era(
            "microsoft-2020", "Teams Direct Routing 2020-2023 (Baltimore CyberTrust Root)",
            MICROSOFT_PROXY_LEAF,
            {"baltimore": ChainPath(("microsoft-rsa-tls-ca-01",), "baltimore-cybertrust-root")},
            ("microsoft-rsa-tls-ca-02",),
            ("The real Baltimore root expired on 2025-05-12.",),
        ),
        _microsoft_era(
            "microsoft-2023", "Teams Direct Routing 2023-2026 (DigiCert Global Root G2)",
            MICROSOFT_PROXY_LEAF,
            {
                "digicert-g2": ChainPath(("azure-rsa-tls-issuing-ca-03",),
                                         "digicert-global-root-g2"),
                "microsoft-2017": ChainPath(
                    ("azure-rsa-tls-issuing-ca-03@microsoft-rsa-root-2017",),
                    "microsoft-rsa-root-2017"),
                "ecc-g3": ChainPath(("azure-ecc-tls-issuing-ca-03",), "digicert-global-root-g3"),
                "ecc-microsoft-2017": ChainPath(
                    ("azure-ecc-tls-issuing-ca-03@microsoft-ecc-root-2017",),
                    "microsoft-ecc-root-2017"),
            },
            ("azure-rsa-tls-issuing-ca-04", "azure-rsa-tls-issuing-ca-07",
             "azure-rsa-tls-issuing-ca-08"),
            ("Switched for Teams SIP on 2023-10-03 after 24-hour test flips on 2023-09-05 "
             "and 2023-09-19.",
             "The real Azure RSA TLS Issuing CA 03 expired on 2026-08-25."),
        ),
        _microsoft_era(
            "microsoft-2026", "Teams Direct Routing 2026 (Microsoft TLS G2 PKI, 4 deep)",
            MICROSOFT_PROXY_LEAF.but(
                eku=("serverAuth",),
                sans=dns(*_PSTNHUB, "sip.g1.pstnhub.microsoft.com"),
            ),
            {
                "digicert-g2": ChainPath(
                    ("microsoft-tls-g2-rsa-ca-ocsp-02",
                     "microsoft-tls-rsa-root-g2@digicert-global-root-g2"),
                    "digicert-global-root-g2", source="[C]"),
                "microsoft-2017": ChainPath(
                    ("microsoft-tls-g2-rsa-ca-ocsp-02",
                     "microsoft-tls-rsa-root-g2@microsoft-rsa-root-2017"),
                    "microsoft-rsa-root-2017",
                    note="claimed, not listed by Microsoft", source="[?]"),
                "self-signed-g2": ChainPath(
                    ("microsoft-tls-g2-rsa-ca-ocsp-02",),
                    "microsoft-tls-rsa-root-g2@microsoft-tls-rsa-root-g2",
                    note="the self-signed TLS RSA Root G2 as anchor; not among the seven roots",
                    source="[S]"),
                "digicert-g5": ChainPath(
                    ("microsoft-tls-g2-rsa-ca-ocsp-02",
                     "microsoft-tls-rsa-root-g2@digicert-tls-rsa4096-root-g5"),
                    "digicert-tls-rsa4096-root-g5",
                    note="field reports of G5 chains [S]; the G5 cross of TLS RSA Root G2 is "
                         "fakepeer's model of the unpublished link [?]",
                    source="[S]/[?]"),
                "ecc-g3": ChainPath(
                    ("microsoft-tls-g2-ecc-ca-ocsp-02",
                     "microsoft-tls-ecc-root-g2@digicert-global-root-g3"),
                    "digicert-global-root-g3", source="[V]"),
                "ecc-self-signed-g2": ChainPath(
                    ("microsoft-tls-g2-ecc-ca-ocsp-02",),
                    "microsoft-tls-ecc-root-g2@microsoft-tls-ecc-root-g2",
                    note="the self-signed TLS ECC Root G2 as anchor; not among the seven roots",
                    source="[S]"),
                "ecc-digicert-g5": ChainPath(
                    ("microsoft-tls-g2-ecc-ca-ocsp-02",
                     "microsoft-tls-ecc-root-g2@digicert-tls-ecc-p384-root-g5"),
                    "digicert-tls-ecc-p384-root-g5",
                    note="field reports of G5 chains [S]; the G5 cross of TLS ECC Root G2 is "
                         "fakepeer's model of the unpublished link [?]",
                    source="[S]/[?]"),
                "ecc-microsoft-2017": ChainPath(
                    ("microsoft-tls-g2-ecc-ca-ocsp-02",
                     "microsoft-tls-ecc-root-g2@microsoft-ecc-root-2017"),
                    "microsoft-ecc-root-2017",
                    note="claimed in 2025 notes; Microsoft lists the ECC root only under G3",
                    source="[?]"),
                "digicert-global-root-ca": ChainPath(
                    ("digicert-tls-rsa-sha256-2020-ca1",), "digicert-global-root-ca",
                    note="one of the seven roots; no Teams chain to it is public, so DigiCert's "
                         "usual issuing CA stands in; Mozilla and Chrome distrust it for TLS "
                         "from 2026-04-15",
                    source="[?]"),
            },
            ("microsoft-tls-g2-rsa-ca-ocsp-04",),
            ("serverAuth-only EKUs from leaf to cross-signed root: SBCs that check the TLS "
             "client purpose on Microsoft's certificate in mutual TLS fail.",
             "4 deep: verifiers with a small verify depth fail with error 20."),
        ),
        Era(
            id="genesys", title="Genesys Cloud BYOC Cloud (DigiCert)",
            leaf=GENESYS_EDGE_LEAF,
            paths={
                "digicert-g2": ChainPath(("digicert-global-g2-tls-rsa-sha256-2020-ca1",),
                                         "digicert-global-root-g2"),
                "digicert-g3": ChainPath(("digicert-global-g3-tls-ecc-sha384-2020-ca1",),
                                         "digicert-global-root-g3",
                                         note="an RSA leaf signed by an ECC CA"),
                "digicert-ev": ChainPath(("digicert-sha2-ev-server-ca",),
                                         "digicert-high-assurance-ev-root"),
                "digicert-global-ca-g2": ChainPath(
                    ("digicert-global-ca-g2",), "digicert-global-root-g2",
                    note="an issuing CA DigiCert revoked on 2026-05-15 [V]; that Genesys "
                         "edges used it is fakepeer's assumption [?]", source="[?]"),
            },
            notes=("Genesys certificates carry no clientAuth EKU from the week of 2026-03-09.",),
        ),
    )
}

DEFAULT_ERA = vocabulary.DEFAULT_ERA

#: The revocations of 2026 (DigiCert ALERT60/ALERT86 [V]): on 2026-05-15 DigiCert revoked
#: two G5 cross-signed root certificates, issuers and serials not published; fakepeer
#: takes them to be its G5 crosses of the new Microsoft roots [?]. The same day it
#: revoked the DigiCert Global CA G2 intermediate [V]. The reasons are not published [?].
REVOKED_2026 = date(2026, 5, 15)
REVOCATIONS: tuple[CaRevocation, ...] = (
    CaRevocation("microsoft-tls-rsa-root-g2@digicert-tls-rsa4096-root-g5", REVOKED_2026,
                 "cessation_of_operation",
                 "[V] two G5 cross-signs revoked 2026-05-15; [?] that this is one, the reason"),
    CaRevocation("microsoft-tls-ecc-root-g2@digicert-tls-ecc-p384-root-g5", REVOKED_2026,
                 "cessation_of_operation",
                 "[V] two G5 cross-signs revoked 2026-05-15; [?] that this is one, the reason"),
    CaRevocation("digicert-global-ca-g2", REVOKED_2026, "cessation_of_operation",
                 "[V] revoked 2026-05-15 (it lacks serverAuth); [?] the reason code"),
)

#: Public issuing CAs a lab SBC certificate can come from, and one no cloud trusts.
SBC_ISSUERS: dict[str, ChainPath] = {
    "digicert-g2": ChainPath(("digicert-global-g2-tls-rsa-sha256-2020-ca1",),
                             "digicert-global-root-g2"),
    "digicert-g3": ChainPath(("digicert-global-g3-tls-ecc-sha384-2020-ca1",),
                             "digicert-global-root-g3"),
    "digicert-ev": ChainPath(("digicert-sha2-ev-server-ca",), "digicert-high-assurance-ev-root"),
    "untrusted": ChainPath(("fakepeer-untrusted-issuing-ca",), "fakepeer-untrusted-root"),
}


def _check_names() -> None:
    """The eras and paths here are exactly the vocabulary's, and every root it lists is
    mirrored: a typo fails at import, naming the difference, instead of shipping."""
    problems = []
    for kind, ours, theirs in (("eras", set(ERAS), set(vocabulary.ERAS)),
                               *((f"paths of era {e}", set(ERAS[e].paths),
                                  set(vocabulary.ERAS[e].paths))
                                 for e in set(ERAS) & set(vocabulary.ERAS))):
        if ours != theirs:
            problems.append(f"{kind}: missing {sorted(theirs - ours)}, not in the "
                            f"vocabulary {sorted(ours - theirs)}")
    unknown_roots = sorted(set(vocabulary.SEVEN_ROOTS) - set(CAS))
    if unknown_roots:
        problems.append(f"seven roots not mirrored: {unknown_roots}")
    if problems:
        raise ValueError("fakepeer.pki.mirrors does not match fakepeer.vocabulary: "
                         + "; ".join(problems))


_check_names()
