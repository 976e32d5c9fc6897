"""Secrets for the embedded mode: generated once, kept under var/, never in git."""

import base64
import os
import secrets
from pathlib import Path


def load_or_create(path: Path, make) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = make()
        # O_EXCL: when two processes race on first start, one value wins and both read it.
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(descriptor, "w") as handle:
            handle.write(value)
        return value


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()
