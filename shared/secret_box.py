"""Secrets a service must keep and use again (webhook signing keys), encrypted at rest with
a key from the environment (ADR 0021).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a list of keys: the
first seals, every one opens, so a key is rotated by putting the new one first and
re-sealing at leisure. A sealed value reads ``enc:v1:<token>``; a value without the
prefix is a row written before encryption (or by an older instance during a rolling
update) and is returned as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "enc:v1:"


class SecretBoxError(Exception):
    """A sealed value no configured key opens."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError("no configured key opens this value") from exc

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(PREFIX)
