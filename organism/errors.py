"""The error taxonomy shared by every app.

- `TemporaryError`: the operation may succeed if retried (network blip, 429,
  5xx, a lock held by another worker). Celery tasks retry only these.
- `OperationalError`: the session cannot continue safely (bad credentials,
  exchange rejects, data feed dead); stop or pause the session and alert.
- `StrategyError`: a strategy or evolved genome failed; contain it, record the
  reason, carry on with the rest.
- `DataError`: input data is malformed; reject it whole, with the reasons.
"""

from __future__ import annotations


class OrganismError(Exception):
    """Base of every error we raise on purpose."""


class TemporaryError(OrganismError):
    """Retry later; nothing is wrong with the request itself."""


class OperationalError(OrganismError):
    """Stop the affected session: continuing would be unsafe."""


class StrategyError(OrganismError):
    """A strategy failed; contained to that strategy."""


class DataError(OrganismError):
    """Input data is malformed. `problems` lists what, with row numbers where known."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        detail = "; ".join(self.problems[:20])
        more = f" (+{len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        super().__init__(f"{message}: {detail}{more}" if detail else message)
