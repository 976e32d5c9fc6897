"""Secrets at rest: AES-256-GCM under ``settings.WARDEN_MASTER_KEY``.

Some secrets must be recoverable, not just checkable: the server recomputes AccessKey
signatures, and it logs in to registered data sources. Those are stored encrypted::

    token = encrypt("s3cret", purpose="access_key")      # bytes for a BinaryField
    decrypt(token, purpose="access_key")                  # b"s3cret"

A token is ``version (1 byte) || nonce (12 random bytes) || ciphertext || tag (16 bytes)``.
The ``purpose`` is bound in as associated data: a token written for one purpose does not
decrypt as another (an AccessKey secret copied into a data source's password column fails),
and any changed byte fails authentication.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TOKEN_VERSION = b"\x01"
NONCE_BYTES = 12
TAG_BYTES = 16


class MasterKeyError(ImproperlyConfigured):
    """WARDEN_MASTER_KEY is missing or is not base64 of 32 bytes."""


class DecryptionError(Exception):
    """The token is malformed, was tampered with, was written for another purpose, or was
    encrypted under another master key."""


@functools.lru_cache(maxsize=4)
def _cipher(master_key: str) -> AESGCM:
    if not master_key:
        raise MasterKeyError("WARDEN_MASTER_KEY is not set; it must be base64 of 32 random bytes.")
    try:
        key = base64.b64decode(master_key.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise MasterKeyError("WARDEN_MASTER_KEY is not valid base64; it must be base64 of 32 random bytes.") from error
    if len(key) != 32:
        raise MasterKeyError(
            f"WARDEN_MASTER_KEY decodes to {len(key)} bytes; it must be base64 of exactly 32 random bytes "
            "(e.g. python -c \"import base64, os; print(base64.b64encode(os.urandom(32)).decode())\")."
        )
    return AESGCM(key)


def _associated_data(purpose: str) -> bytes:
    if not purpose:
        raise ValueError("a purpose is required")
    return f"warden:{purpose}".encode()


def encrypt(plaintext: str | bytes, *, purpose: str) -> bytes:
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(settings.WARDEN_MASTER_KEY).encrypt(nonce, plaintext, _associated_data(purpose))
    return TOKEN_VERSION + nonce + sealed


def decrypt(token: bytes | memoryview, *, purpose: str) -> bytes:
    token = bytes(token)
    if len(token) < 1 + NONCE_BYTES + TAG_BYTES or token[:1] != TOKEN_VERSION:
        raise DecryptionError("not a Warden ciphertext")
    nonce, sealed = token[1:1 + NONCE_BYTES], token[1 + NONCE_BYTES:]
    try:
        return _cipher(settings.WARDEN_MASTER_KEY).decrypt(nonce, sealed, _associated_data(purpose))
    except InvalidTag as error:
        raise DecryptionError(
            "the ciphertext failed authentication (tampered, another purpose, or another master key)"
        ) from error
