"""A real OpenID Connect issuer for the tests, on 127.0.0.1: discovery and JWKS over HTTP,
keys generated with ``cryptography``, rotated at will, every fetch counted."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: PrivateKey

    @classmethod
    def generate(cls, algorithm: str = "RS256") -> SigningKey:
        private: PrivateKey
        if algorithm == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private = ec.generate_private_key(ec.SECP256R1())
        return cls(kid=uuid.uuid4().hex[:12], algorithm=algorithm, private=private)

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            found: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public))
        else:
            found = json.loads(ECAlgorithm.to_jwk(public))
        return {**found, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass
class Issuer:
    url: str
    audience: str = "matiere-grise"
    published: list[SigningKey] = field(default_factory=list)
    jwks_fetches: int = 0

    def token(
        self,
        key: SigningKey,
        *,
        role: str = "departement",
        departement: str | None = "49",
        scope: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        expires_in: timedelta = timedelta(minutes=5),
        not_before: timedelta = timedelta(0),
        **extra: Any,
    ) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": issuer or self.url,
            "aud": audience or self.audience,
            "sub": "agent-" + uuid.uuid4().hex[:6],
            "iat": now,
            "nbf": now + not_before,
            "exp": now + expires_in,
            "role": role,
            "departement": departement,
            "scope": scope,
            **extra,
        }
        return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})


@contextmanager
def oidc_issuer(*keys: SigningKey) -> Iterator[Issuer]:
    """An issuer at ``http://127.0.0.1:<port>`` publishing ``keys`` (change
    ``issuer.published`` to rotate)."""
    state: dict[str, Issuer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer = state["issuer"]
            if self.path == "/.well-known/openid-configuration":
                body: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
            elif self.path == "/jwks":
                issuer.jwks_fetches += 1
                body = {"keys": [k.jwk() for k in issuer.published]}
            else:
                self.send_error(404)
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["issuer"] = Issuer(url=f"http://127.0.0.1:{server.server_port}", published=list(keys))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["issuer"]
    finally:
        server.shutdown()
        server.server_close()
