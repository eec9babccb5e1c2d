"""The certificates a real ``fakepeer serve`` sends, as ``openssl s_client`` saw them."""

from __future__ import annotations

from cryptography import x509

from tests.serve.harness import s_client_blocking


def served_chain(port: int, *client: str) -> list[x509.Certificate]:
    """Every certificate of the server's Certificate message, leaf first."""
    output = s_client_blocking(port, "-showcerts", *client).output
    blocks = output.split("-----BEGIN CERTIFICATE-----")[1:]
    return [x509.load_pem_x509_certificate(
        ("-----BEGIN CERTIFICATE-----" + b.split("-----END CERTIFICATE-----")[0]
         + "-----END CERTIFICATE-----\n").encode()) for b in blocks]
