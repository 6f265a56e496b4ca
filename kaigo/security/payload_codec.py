"""Temporal payload encryption (AES-256-GCM). Workflow inputs, results, activity arguments, update payloads
and failure messages leave the worker encrypted, so the Temporal server and its database hold only ciphertext.

Search attributes and memos are NOT encrypted by any codec: that is why they carry no personal data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from kaigo.security.keys import Keyring

ENCODING = b"binary/encrypted"
_KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id, key = self._keyring.current_id, self._keyring.current
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = AESGCM(key).encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(metadata={"encoding": ENCODING, _KEY_ID: key_id.encode()}, data=nonce + sealed)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != ENCODING:
                decoded.append(payload)  # written before encryption was on, or not ours
                continue
            key = self._keyring.get(payload.metadata[_KEY_ID].decode())
            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            decoded.append(Payload.FromString(AESGCM(key).decrypt(nonce, sealed, None)))
        return decoded
