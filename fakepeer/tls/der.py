# -*- test-case-name: tests.tls.test_crafted_certificates -*-
"""Just enough DER to read the parts of a certificate that cryptography refuses.

cryptography reads a certificate's extensions (and its names) all or nothing: one
malformed subjectAltName and ``cert.extensions`` raises for every extension, one byte in a
name it dislikes and ``cert.subject`` raises. OpenSSL is more lenient, so an SBC can
present such a certificate in a handshake (issue 12 item 1). This module splits the raw
certificate into its TLVs so :mod:`fakepeer.tls.inspect` can parse each extension on its
own, name the one that is broken and still report the others, and show a name as text
when cryptography cannot. It decodes structure only, never trusts a length past the
buffer, and raises :class:`DerError` (a ``ValueError``) for anything it cannot follow.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
SET = 0x31
BOOLEAN = 0x01
OBJECT_IDENTIFIER = 0x06
OCTET_STRING = 0x04
#: The context-specific, constructed ``[3] EXPLICIT Extensions`` of a TBSCertificate.
EXTENSIONS_TAG = 0xA3
#: The position of the subject in a TBSCertificate with its ``[0] version`` present:
#: version, serialNumber, signature, issuer, validity, subject.
_ISSUER_INDEX = 3
_SUBJECT_INDEX = 5
#: RFC 5280 attribute types as OpenSSL abbreviates them, for :func:`name_text`.
_ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
    "2.5.4.11": "OU", "2.5.4.5": "serialNumber", "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}


class DerError(ValueError):
    """Bytes that are not the DER structure expected at this place."""


@dataclass(frozen=True, slots=True)
class Element:
    """One TLV inside ``data``: its tag and where its header and content lie."""

    data: bytes
    tag: int
    start: int
    content_start: int
    end: int

    @property
    def content(self) -> bytes:
        return self.data[self.content_start:self.end]

    @property
    def encoded(self) -> bytes:
        """The whole TLV, header included."""
        return self.data[self.start:self.end]

    def children(self) -> list[Element]:
        """The TLVs that make up this element's content (for SEQUENCE, SET, [n])."""
        return elements(self.data, self.content_start, self.end)


def element_at(data: bytes, offset: int, limit: int | None = None) -> Element:
    """The TLV that starts at ``offset`` and must end by ``limit`` (default: the buffer)."""
    limit = len(data) if limit is None else limit
    if offset + 2 > limit:
        raise DerError(f"truncated element at byte {offset}")
    tag, first = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise DerError(f"high-number tag at byte {offset}")
    position = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or position + count > limit:
            raise DerError(f"bad length at byte {offset}")
        length = int.from_bytes(data[position:position + count], "big")
        position += count
    if position + length > limit:
        raise DerError(f"element at byte {offset} runs past its container")
    return Element(data, tag, offset, position, position + length)


def elements(data: bytes, start: int = 0, end: int | None = None) -> list[Element]:
    """The consecutive TLVs between ``start`` and ``end``."""
    end = len(data) if end is None else end
    found = []
    while start < end:
        item = element_at(data, start, end)
        found.append(item)
        start = item.end
    return found


def encode(tag: int, content: bytes) -> bytes:
    """One TLV in DER's shortest length form."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def oid_text(content: bytes) -> str:
    """An OBJECT IDENTIFIER's content octets in dotted form (``2.5.29.17``)."""
    if not content or content[-1] & 0x80:
        raise DerError("malformed object identifier")
    arcs: list[int] = []
    value = 0
    for octet in content:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))


@dataclass(frozen=True, slots=True)
class RawExtension:
    """One extension as written: its OID (dotted), critical flag and value octets."""

    oid: str
    critical: bool
    value: bytes
    encoded: bytes


def _tbs_fields(certificate: bytes) -> tuple[Element, Element, list[Element]]:
    """The Certificate element, its TBSCertificate and the TBS's fields."""
    outer = element_at(certificate, 0)
    if outer.tag != SEQUENCE:
        raise DerError("a certificate is a SEQUENCE")
    parts = outer.children()
    if not parts or parts[0].tag != SEQUENCE:
        raise DerError("no TBSCertificate")
    return outer, parts[0], parts[0].children()


def raw_extensions(certificate: bytes) -> list[RawExtension]:
    """Every extension of a DER certificate, in order, duplicates included."""
    _, _, fields = _tbs_fields(certificate)
    wrapper = next((f for f in fields if f.tag == EXTENSIONS_TAG), None)
    if wrapper is None:
        return []
    inside = wrapper.children()
    if len(inside) != 1 or inside[0].tag != SEQUENCE:
        raise DerError("extensions are not one SEQUENCE")
    found = []
    for item in inside[0].children():
        parts = item.children()
        if len(parts) not in (2, 3) or parts[0].tag != OBJECT_IDENTIFIER:
            raise DerError(f"malformed extension at byte {item.start}")
        critical = len(parts) == 3 and parts[1].tag == BOOLEAN and parts[1].content != b"\0"
        found.append(RawExtension(oid_text(parts[0].content), critical, parts[-1].content,
                                  item.encoded))
    return found


def with_extensions(certificate: bytes, extensions: list[bytes]) -> bytes:
    """``certificate`` re-encoded with only ``extensions`` (encoded Extension TLVs).

    The signature no longer matches, which does not matter: the result is only ever
    parsed, to read one extension in isolation.
    """
    outer, tbs, fields = _tbs_fields(certificate)
    kept = b"".join(f.encoded for f in fields if f.tag != EXTENSIONS_TAG)
    block = encode(EXTENSIONS_TAG, encode(SEQUENCE, b"".join(extensions)))
    rest = certificate[tbs.end:outer.end]
    return encode(SEQUENCE, encode(SEQUENCE, kept + block) + rest)


def name_der(certificate: bytes, part: str) -> bytes:
    """The encoded subject (``part="subject"``) or issuer Name of a DER certificate."""
    _, _, fields = _tbs_fields(certificate)
    offset = 0 if fields and fields[0].tag == 0xA0 else -1  # v1 certificates lack [0]
    index = (_SUBJECT_INDEX if part == "subject" else _ISSUER_INDEX) + offset
    if index >= len(fields) or fields[index].tag != SEQUENCE:
        raise DerError(f"no {part} name")
    return fields[index].encoded


def name_text(encoded: bytes) -> str:
    """A Name as ``CN=x,O=y`` (RFC 4514 order: last RDN first), whatever its string
    types: values are shown as their bytes decoded leniently, non-strings in hex."""
    rdns = []
    for rdn in element_at(encoded, 0).children():
        values = []
        for attribute in rdn.children():
            parts = attribute.children()
            if len(parts) != 2 or parts[0].tag != OBJECT_IDENTIFIER:
                raise DerError("malformed attribute in a name")
            oid = oid_text(parts[0].content)
            values.append(f"{_ATTRIBUTE_NAMES.get(oid, oid)}={_value_text(parts[1])}")
        rdns.append("+".join(values))
    return ",".join(reversed(rdns))


#: String types whose octets are not UTF-8 compatible: BMPString, UniversalString.
_WIDE_STRINGS = {0x1E: "utf-16-be", 0x1C: "utf-32-be"}


def _value_text(value: Element) -> str:
    """An attribute value as text however it is typed: strings decoded leniently (one
    backslash escape per undecodable byte), anything else as ``#`` and its hex DER."""
    if value.tag >= 0x20:
        return "#" + value.encoded.hex()
    return value.content.decode(_WIDE_STRINGS.get(value.tag, "utf-8"), "backslashreplace")
