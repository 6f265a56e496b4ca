"""Field-level protection for 個人番号: AES-256-GCM at rest plus an HMAC blind index for exact search.

The ciphertext is bound to its row (associated data = 宛名番号), so a ciphertext copied onto another person
fails to decrypt. The key id travels with the ciphertext, so keys can rotate without re-encrypting first.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kaigo.config import Settings
from kaigo.security.keys import Keyring

_NONCE_BYTES = 12


@dataclass(frozen=True)
class SealedValue:
    key_id: str
    ciphertext: bytes  # nonce || AES-GCM ciphertext+tag


class FieldCipher:
    def __init__(self, data_keys: Keyring, index_key: bytes) -> None:
        self._keys = data_keys
        self._index_key = index_key

    @classmethod
    def from_settings(cls, settings: Settings) -> FieldCipher:
        index = Keyring.parse(settings.blind_index_key, name="BLIND_INDEX_KEY")
        return cls(Keyring.parse(settings.data_keys, name="DATA_KEYS"), index.current)

    def seal(self, plaintext: str, *, bound_to: str) -> SealedValue:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self._keys.current).encrypt(nonce, plaintext.encode(), bound_to.encode())
        return SealedValue(self._keys.current_id, nonce + sealed)

    def open(self, value: SealedValue, *, bound_to: str) -> str:
        nonce, sealed = value.ciphertext[:_NONCE_BYTES], value.ciphertext[_NONCE_BYTES:]
        return AESGCM(self._keys.get(value.key_id)).decrypt(nonce, sealed, bound_to.encode()).decode()

    def blind_index(self, plaintext: str) -> str:
        """Deterministic keyed hash: equal numbers give equal indexes, the index reveals nothing alone."""
        return hmac.new(self._index_key, plaintext.encode(), hashlib.sha256).hexdigest()
