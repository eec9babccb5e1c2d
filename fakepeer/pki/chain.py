"""What a TLS endpoint serves: a leaf, its key, and the certificates sent after it."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from fakepeer.pki.keys import PrivateKey


@dataclass(frozen=True, slots=True)
class ServedChain:
    """A certificate situation ready to be loaded into a TLS context.

    ``extra`` is exactly what goes after the leaf in the Certificate message, in send
    order: a correct chain lists the intermediates leaf-first; a defect may leave them
    out, reverse them, add the root or an unrelated certificate. ``trust_anchors`` are
    the roots a correctly configured peer must trust to accept ``leaf``; they are never
    implied by ``extra``.
    """

    leaf: x509.Certificate
    key: PrivateKey
    extra: tuple[x509.Certificate, ...] = ()
    trust_anchors: tuple[x509.Certificate, ...] = ()
    names: tuple[str, ...] = field(default=())
    label: str = ""

    @property
    def sent(self) -> tuple[x509.Certificate, ...]:
        """Every certificate in the Certificate message, leaf first."""
        return (self.leaf, *self.extra)
