"""Prometheus metrics of the trading sessions (sub-router of `api_sessions`).

`GET /api/v1/trading/metrics` answers the text exposition format; it is
authenticated like the whole API (a bearer token for Prometheus'
`authorization` setting).
"""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Router

from trading.metrics import metrics_text

router = Router(tags=["metrics"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response={200: str}, openapi_extra={"responses": {200: {"content": {
                "text/plain": {"schema": {"type": "string"}}}}}})
def metrics(request):
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE)
