"""The DTLS certificate of one worker: self-signed ECDSA P-256, and its fingerprints."""

import datetime
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Algorithms in the order mediasoup lists them. mediasoup-client copies only the last entry into
# its SDP, so the strongest one goes last.
FINGERPRINT_ALGORITHMS: dict[str, hashes.HashAlgorithm] = {
    "sha-1": hashes.SHA1(),
    "sha-224": hashes.SHA224(),
    "sha-256": hashes.SHA256(),
    "sha-384": hashes.SHA384(),
    "sha-512": hashes.SHA512(),
}


def format_fingerprint(digest: bytes) -> str:
    """Format a digest as uppercase hex pairs joined by colons, as SDP writes it."""
    return ":".join(f"{byte:02X}" for byte in digest)


@dataclass(frozen=True)
class Certificate:
    """A certificate and its private key, both as PEM, plus the parsed certificate."""

    certificate_pem: bytes
    private_key_pem: bytes
    x509: x509.Certificate

    @classmethod
    def generate(cls, common_name: str = "pysfu") -> "Certificate":
        """Create a self-signed ECDSA P-256 certificate valid from 10 years ago to 10 ahead."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=3650))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        return cls(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
            private_key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            x509=cert,
        )

    @classmethod
    def load(cls, certificate_file: str, private_key_file: str) -> "Certificate":
        """Load a PEM certificate and key from files (the `dtlsCertificateFile` worker setting)."""
        with open(certificate_file, "rb") as handle:
            certificate_pem = handle.read()
        with open(private_key_file, "rb") as handle:
            private_key_pem = handle.read()
        cert = x509.load_pem_x509_certificate(certificate_pem)
        serialization.load_pem_private_key(private_key_pem, password=None)
        return cls(certificate_pem=certificate_pem, private_key_pem=private_key_pem, x509=cert)

    def fingerprints(self) -> list[dict[str, Any]]:
        """Return the `dtlsParameters.fingerprints` list, strongest algorithm last."""
        return [
            {"algorithm": name, "value": format_fingerprint(self.x509.fingerprint(algorithm))}
            for name, algorithm in FINGERPRINT_ALGORITHMS.items()
        ]
