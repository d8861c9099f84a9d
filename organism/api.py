"""The REST API, /api/v1/ (django-ninja). OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs.

Every endpoint is authenticated (bearer token or session). Bad input is a 422
with field details; `ParameterError` and `DataError` from the domain map to 422
so no bad request reaches a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from ninja import NinjaAPI, Schema

from organism.api_auth import API_AUTH, docs_access
from organism.errors import DataError
from trading.engine.strategy import ParameterError

api = NinjaAPI(
    title="Organism API",
    version="1",
    urls_namespace="api-1",
    auth=API_AUTH,
    docs_decorator=docs_access,
    description="Self-improving quant trading platform. Authenticate with `Authorization: Bearer <token>` "
    "(create one with `python manage.py api_token_create USER`).",
)


def _unprocessable(request, detail):
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(ParameterError)
def on_parameter_error(request, exc: ParameterError):
    return _unprocessable(
        request, [{"loc": ["body", "params", k], "msg": v, "type": "value_error"} for k, v in exc.errors.items()]
    )


@api.exception_handler(DataError)
def on_data_error(request, exc: DataError):
    return _unprocessable(request, [{"loc": ["body"], "msg": str(exc), "type": "data_error"}])


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request, exc: DjangoValidationError):
    if hasattr(exc, "message_dict"):
        detail = [{"loc": ["body", k], "msg": "; ".join(v), "type": "value_error"} for k, v in exc.message_dict.items()]
    else:
        detail = [{"loc": ["body"], "msg": "; ".join(exc.messages), "type": "value_error"}]
    return _unprocessable(request, detail)


class HealthOut(Schema):
    status: str
    database: str


class StatusOut(Schema):
    version: str
    mode: str
    database_engine: str
    live_trading_enabled: bool
    instruments: int
    candles: int
    user: str


@api.get("/health", response=HealthOut, tags=["system"])
def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "database": "ok"}


@api.get("/status", response=StatusOut, tags=["system"])
def status(request):
    from trading.selectors import market_data_totals

    totals = market_data_totals()
    return {
        "version": api.version,
        "mode": "embedded" if settings.EMBEDDED else "distributed",
        "database_engine": connection.vendor,
        "live_trading_enabled": settings.ORGANISM_LIVE_TRADING,
        "instruments": totals["instruments"],
        "candles": totals["candles"],
        "user": request.user.get_username(),
    }


def _mount_routers() -> None:
    # The one place in `organism` that composes every app's API.
    from backtests.api import router as backtests_router
    from evolution.api import router as evolution_router
    from trading.api import router as trading_market_router

    api.add_router("/", trading_market_router)
    api.add_router("/backtests", backtests_router)
    api.add_router("/trading", "trading.api_sessions.router")
    api.add_router("/", evolution_router)


_mount_routers()
