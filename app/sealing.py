"""Secrets at rest and the service's own keyed digests, all from SECRETS_KEY.

- `seal` / `open_sealed`: a mapping of secrets (a channel's password, a provider's token) as one
  Fernet token (AES-128-CBC + HMAC-SHA256, `cryptography`). Several keys may be given, the first
  sealing and every one opening, so a key is rotated by putting the new one first.
- `keyed_digest`: an HMAC-SHA256 of a value under a key derived for one purpose, e.g. a suppressed
  address's hash, which must stay stable: it is derived from the LAST key given (the oldest), so
  keep that key last while such digests are stored.
- `sign` / `unsign`: public tokens (tracked links, unsubscribe pages, callbacks) as
  `<payload>.<signature>`, urlsafe base64, signed under a key derived from the same oldest key.

Unset, SECRETS_KEY is generated once into SECRETS_KEY_FILE (mode 0600), so the embedded default
works with no setup; a production installation sets it and keeps it with its backups."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app import jsonio
from app.config import Settings, get_settings

__all__ = ["InvalidToken", "Sealer", "configure", "sealer"]


class Sealer:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("SECRETS_KEY holds no key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        oldest = base64.urlsafe_b64decode(keys[-1])
        self._digest_key = hmac.new(oldest, b"crm keyed digests", hashlib.sha256).digest()
        self._signing_key = hmac.new(oldest, b"crm public tokens", hashlib.sha256).digest()

    def seal(self, secrets: Mapping[str, str]) -> str:
        return self._fernet.encrypt(jsonio.dump_bytes(dict(secrets))).decode("ascii")

    def open_sealed(self, sealed: str | None) -> dict[str, str]:
        """The secrets of `seal`'s token ({} for none). InvalidToken when no key opens it."""
        if not sealed:
            return {}
        opened: dict[str, str] = jsonio.loads(self._fernet.decrypt(sealed.encode("ascii")))
        return opened

    def keyed_digest(self, purpose: str, value: str) -> str:
        """Hex HMAC-SHA256 of `value` for `purpose` (e.g. `suppression:email`)."""
        message = purpose.encode() + b"\0" + value.encode("utf-8")
        return hmac.new(self._digest_key, message, hashlib.sha256).hexdigest()

    def sign(self, purpose: str, payload: bytes) -> str:
        """`payload` and its signature for `purpose`, as one urlsafe token."""
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        return (body + b"." + self._signature(purpose, body)).decode("ascii")

    def unsign(self, purpose: str, token: str) -> bytes | None:
        """The payload of a token `sign` made for `purpose`; None for any other string."""
        try:
            body, _, signature = token.encode("ascii").partition(b".")
            if not hmac.compare_digest(signature, self._signature(purpose, body)):
                return None
            return base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
        except (UnicodeEncodeError, ValueError):
            return None

    def _signature(self, purpose: str, body: bytes) -> bytes:
        mac = hmac.new(self._signing_key, purpose.encode() + b"\0" + body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:20]).rstrip(b"=")  # 160 bits


_lock = threading.Lock()
_current: Sealer | None = None


def configure(settings: Settings) -> Sealer:
    """The process's sealer, from these settings (called at start-up by the API and the worker)."""
    global _current
    with _lock:
        _current = Sealer(_keys(settings))
        return _current


def sealer() -> Sealer:
    return _current or configure(get_settings())


def _keys(settings: Settings) -> list[bytes]:
    raw = settings.secrets_key
    if not raw:
        raw = _key_file(Path(settings.secrets_key_file))
    keys = [part.strip().encode("ascii") for part in raw.split(",") if part.strip()]
    for key in keys:
        Fernet(key)  # a malformed key fails at start-up, not at the first secret
    return keys


def _key_file(path: Path) -> str:
    """The key in `path`, generated there (readable by this user only) the first time."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key().decode("ascii")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this installation made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key + "\n")
    return key
