"""Keep exchange credentials out of logs and exception messages.

Guarantees:
- A `SecretRedactor` replaces every registered secret (API key, secret,
  password; at least `MIN_SECRET_LENGTH` characters, so short strings that
  would garble ordinary text are never registered) with `[REDACTED]`.
- Installed as a filter on a logger, it rewrites each record that logger
  creates before any handler sees it: the formatted message, the exception
  text and the stack text. Python applies a logger's filters only to records
  created on that very logger, so the adapters install it on each logger that
  may see credentials: their own, and the ccxt exchange's (which logs request
  headers, including the API key, at DEBUG level).
- `scrub(exc)` rewrites an exception's message and those of its causes in
  place, so that a ccxt error echoing a key never escapes with the key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MIN_SECRET_LENGTH = 6
MASK = "[REDACTED]"


class SecretRedactor(logging.Filter):
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self.register(*secrets)

    def register(self, *secrets: str | None) -> None:
        """Add secrets to hide; None, empty and too-short values are ignored."""
        with self._lock:
            for secret in secrets:
                if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                    self._secrets.add(secret)

    def redact(self, text: str) -> str:
        # longest first, so a secret containing another one is masked whole
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def install(self, *loggers: logging.Logger) -> None:
        """Attach to each logger once (installing twice is harmless)."""
        for logger in loggers:
            if self not in logger.filters:
                logger.addFilter(self)

    def scrub(self, exc: BaseException) -> BaseException:
        """Redact `exc`'s arguments and its whole cause/context chain, in place."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            current.args = tuple(
                self.redact(a) if isinstance(a, str) else a for a in current.args
            )
            current = current.__cause__ or current.__context__
        return exc


# One process-wide redactor: every adapter registers the credentials it is
# given, and any logger it installs on hides all of them.
REDACTOR = SecretRedactor()
