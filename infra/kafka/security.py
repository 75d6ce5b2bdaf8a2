"""The local broker's identities (ADR 0019): a CA and the broker's certificate, one SCRAM
password per principal, and the configuration that uses them. Called by kafka.sh.

    security.py ensure DIR         CA, broker certificate and passwords under DIR, made once
    security.py server-config DIR  the listeners and security lines of server.properties
    security.py tools-config DIR   admin.properties for Kafka's tools (the admin principal)
    security.py scram-args DIR     kafka-storage format's --add-scram arguments, one a line

DIR is ``$MG_LOCAL_DIR/kafka``; ``MG_KAFKA_SECURITY=plaintext`` (the dev switch) makes
the configuration plaintext. Files holding secrets are readable by their owner only and
never leave the machine: nothing here is committed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.messaging.acls import ADMIN, BROKER, principals

SCRAM = "SCRAM-SHA-512"
VALIDITY = datetime.timedelta(days=3650)


def mode() -> str:
    value = os.environ.get("MG_KAFKA_SECURITY", "sasl_ssl").lower()
    if value not in ("sasl_ssl", "plaintext"):
        sys.exit(f"MG_KAFKA_SECURITY={value!r}: expected sasl_ssl or plaintext")
    return value


def _private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    path.with_suffix(".tmp").replace(path)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificates(tls: Path) -> None:
    """A CA, and the broker's key and certificate signed by it (loopback names only; CN
    ``broker`` is its principal on the controller listener, where it authenticates by
    certificate)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Matiere Grise local CA"))
        .issuer_name(_name("Matiere Grise local CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(BROKER))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _private(tls / "ca.key", _pem_key(ca_key))
    # The broker's keystore (PEM): its key, its certificate, then the CA's.
    _private(tls / "broker.pem", _pem_key(key) + cert.public_bytes(pem) + ca.public_bytes(pem))
    # Written last: its presence means the set is complete.
    (tls / "ca.crt").write_bytes(ca.public_bytes(pem))


def ensure(home: Path) -> None:
    tls = home / "tls"
    if not (tls / "ca.crt").is_file():
        _certificates(tls)
    credentials = home / "credentials"
    credentials.mkdir(parents=True, exist_ok=True)
    credentials.chmod(0o700)
    for name in [*principals(), BROKER]:
        path = credentials / f"{name}.password"
        if not path.is_file():
            _private(path, secrets.token_urlsafe(32).encode())


def password(home: Path, name: str) -> str:
    return (home / "credentials" / f"{name}.password").read_text(encoding="utf-8").strip()


def _jaas(home: Path, name: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{name}" password="{password(home, name)}";'
    )


def server_config(home: Path, port: str, controller_port: str) -> str:
    if mode() == "plaintext":
        return f"""listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""
    tls = home / "tls"
    return f"""listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER
# Clients: SCRAM over TLS. The controller listener: TLS with the broker's own certificate.
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms={SCRAM}
sasl.mechanism.inter.broker.protocol={SCRAM}
listener.name.sasl_ssl.{SCRAM.lower()}.sasl.jaas.config={_jaas(home, BROKER)}
ssl.keystore.type=PEM
ssl.keystore.location={tls / "broker.pem"}
ssl.truststore.type=PEM
ssl.truststore.location={tls / "ca.crt"}
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{BROKER};User:{ADMIN}
"""


def tools_config(home: Path) -> str:
    timeouts = "request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n"
    if mode() == "plaintext":
        return timeouts
    return timeouts + (
        f"security.protocol=SASL_SSL\nsasl.mechanism={SCRAM}\n"
        f"sasl.jaas.config={_jaas(home, ADMIN)}\n"
        f"ssl.truststore.type=PEM\nssl.truststore.location={home / 'tls' / 'ca.crt'}\n"
    )


def scram_args(home: Path) -> list[str]:
    if mode() == "plaintext":
        return []
    args = []
    for name in [*principals(), BROKER]:
        args += ["--add-scram", f"{SCRAM}=[name={name},password={password(home, name)}]"]
    return args


def main(argv: list[str]) -> None:
    command, home = argv[0], Path(argv[1])
    if command == "ensure":
        if mode() == "sasl_ssl":
            ensure(home)
    elif command == "mode":
        print(mode())
    elif command == "server-config":
        print(server_config(home, argv[2], argv[3]), end="")
    elif command == "tools-config":
        print(tools_config(home), end="")
    elif command == "scram-args":
        for arg in scram_args(home):
            print(arg)
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
