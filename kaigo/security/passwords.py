"""Staff passwords: argon2 via pwdlib, with constant work for unknown accounts."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the login id does not exist, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash("kaigo-flow-dummy-password-for-timing")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"パスワードは{MIN_LENGTH}文字以上にしてください"
    if password.isdigit() or password.isalpha():
        return "パスワードには文字と数字・記号を組み合わせてください"
    return None
