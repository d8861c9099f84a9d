"""Versioned parameter sets: the settings a trading session runs on.

A set is identified by (name, version). Once a session has used a version it
never changes again: editing it creates version n+1 with the old one as its
parent (see `trading.services.parameter_sets`), so every session keeps a
record of exactly what it ran.

`values` holds up to four sections, each optional:
- "risk": risk-profile overrides by field name (see `RiskProfile`),
- "agents": per-agent parameters, {"momentum": {"rsi_period": 14}, ...},
- "weights": base agent weights, {"momentum": 1.5, ...},
- "kernel": kernel settings (entry_protection, entry_ttl_bars, window_bars,
  agent_budget_s, execution "trailing"/"immediate", exits "planned"/"decided").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ParameterSet(models.Model):
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    values = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="uniq_parameter_set_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
