"""Keyrings (`id:base64key,id:base64key`): the first key encrypts, every key decrypts (rotation)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, value: str, *, name: str) -> Keyring:
        keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            key_id, _, encoded = item.partition(":")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise ValueError(f"{name}: key {key_id!r} is not base64") from None
            if not key_id or len(key) != 32:
                raise ValueError(f"{name}: each entry must be `id:base64(32 bytes)`")
            keys[key_id] = key
        if not keys:
            raise ValueError(f"{name}: no keys configured")
        return cls(current_id=next(iter(keys)), keys=keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def get(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeyError(f"unknown key id {key_id!r}: was it removed from the keyring?") from None
