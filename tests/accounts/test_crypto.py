import base64
import os

import pytest

from apps.core import crypto


def test_round_trip_and_fresh_nonce_each_time():
    first = crypto.encrypt("s3cret value", purpose="access_key")
    second = crypto.encrypt("s3cret value", purpose="access_key")
    assert first != second  # a random nonce per encryption
    assert b"s3cret" not in first
    assert crypto.decrypt(first, purpose="access_key") == b"s3cret value"
    assert crypto.decrypt(memoryview(second), purpose="access_key") == b"s3cret value"


@pytest.mark.parametrize("position", [0, 1, 13, -1])
def test_any_changed_byte_is_detected(position):
    token = bytearray(crypto.encrypt("s3cret", purpose="access_key"))
    token[position] ^= 0x01
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bytes(token), purpose="access_key")


def test_truncated_token_is_refused():
    token = crypto.encrypt("s3cret", purpose="access_key")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token[:20], purpose="access_key")


def test_ciphertext_of_one_purpose_does_not_decrypt_as_another():
    token = crypto.encrypt("s3cret", purpose="access_key")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, purpose="datasource_password")


def test_another_master_key_cannot_decrypt(settings):
    token = crypto.encrypt("s3cret", purpose="access_key")
    settings.WARDEN_MASTER_KEY = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, purpose="access_key")


@pytest.mark.parametrize(
    "bad_key, complaint",
    [
        ("", "not set"),
        ("not base64!!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
    ],
)
def test_malformed_master_key_gives_a_clear_error(settings, bad_key, complaint):
    settings.WARDEN_MASTER_KEY = bad_key
    with pytest.raises(crypto.MasterKeyError, match=complaint):
        crypto.encrypt("s3cret", purpose="access_key")
