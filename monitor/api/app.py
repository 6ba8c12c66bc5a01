"""The FastAPI application: API under /api/v1, health, metrics, error shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from monitor import demo
from monitor.api import (
    accounts,
    ack,
    districts,
    docs,
    incidents,
    records,
    reports,
    signins,
    users,
    voice,
    webhooks,
)
from monitor.api.limits import BodyLimit
from monitor.api.request_id import RequestId
from monitor.api.responses import API_ERRORS
from monitor.db import ping
from monitor.errors import ErrorCode, SunclockError, code_of
from monitor.metrics import database_metrics
from monitor.outage import RETRY_AFTER_SECONDS, is_connection_error
from monitor.pages.site import router as pages_router
from monitor.pages.site import static_files
from monitor.runtime import Runtime
from monitor.startup import recount

log = structlog.get_logger("sunclock.api")


def _error(status: int, message: str, field: str | None = None, where: str = "body",
           coded: SunclockError | None = None) -> JSONResponse:
    code = {"code": coded.code, **({"params": coded.params} if coded.params else {})} if coded else {}
    if status == 422:
        loc = [where, field] if field else [where]
        return JSONResponse({"detail": [{"loc": loc, "msg": message, "type": "value_error", **code}]},
                            status_code=422)
    return JSONResponse({"detail": message, **({"field": field} if field else {}), **code}, status_code=status)


def _validation_error(error: dict) -> dict:
    """pydantic's error as the API shows it, with the code when one of our validators refused."""
    shown = {k: v for k, v in error.items() if k in ("loc", "msg", "type")}
    if (refused := code_of(error)) is not None:
        shown["code"] = refused.code
        if refused.params:
            shown["params"] = refused.params
    return shown


def create_app(runtime: Runtime, *, run_scheduler: bool = True, seed_demo: bool = False,
               swept: bool = False) -> FastAPI:
    app = FastAPI(title="Sunclock", version="0.1.0", lifespan=_lifespan(runtime, run_scheduler, seed_demo, swept),
                  docs_url=None, redoc_url=None,  # monitor/api/docs.py serves them from local assets
                  description="Deadlines of major emergencies: authoritative release within 5 h, "
                              "press conference within 24 h, escalated until met.")
    app.state.runtime = runtime
    _add_middleware(app, runtime)
    _add_exception_handlers(app, runtime)
    _include_routers(app)
    _add_health_routes(app, runtime, run_scheduler)
    docs.install(app)
    return app


def _lifespan(runtime: Runtime, run_scheduler: bool, seed_demo: bool, swept: bool):  # noqa: ANN202 - a factory
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if seed_demo:
            await demo.seed(runtime)
        if run_scheduler:
            if not swept:  # serve recounts and sweeps before the server starts (monitor/startup.py)
                await recount(runtime)
            await runtime.scheduler.start()
        if runtime.outbox_channels:
            log.warning("outbox_mode", channels=runtime.outbox_channels,
                        hint="set SUNCLOCK_TWILIO_* or SUNCLOCK_ALIYUN_* / SUNCLOCK_SMTP_* to deliver for real")
        yield
        await runtime.close()

    return lifespan


def _add_middleware(app: FastAPI, runtime: Runtime) -> None:
    if runtime.settings.trusted_proxy_list:
        # Only these peers may say who the client is; from anyone else X-Forwarded-For is ignored.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=runtime.settings.trusted_proxy_list)
    app.add_middleware(BodyLimit)  # bodies over 1 MiB: 413 before anything reads them

    app.add_middleware(RequestId)


def _database_unavailable(runtime: Runtime, exc: DBAPIError) -> JSONResponse:
    """503 with Retry-After, never 500: the database going away is expected
    (monitor/outage.py). A lost connection is logged once per outage."""
    if is_connection_error(exc):
        runtime.outage.noticed(exc, "api")
    else:  # a deadlock or a serialization failure: the database is there, the request may be retried
        log.warning("database_operational_error", error=str(exc.orig))
    response = _error(503, "the database is not reachable right now; try again shortly",
                      coded=SunclockError("", code=ErrorCode.DATABASE_UNAVAILABLE))
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _add_exception_handlers(app: FastAPI, runtime: Runtime) -> None:
    @app.exception_handler(SunclockError)
    async def domain_error(_request: Request, exc: SunclockError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.field, exc.where, coded=exc)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity_conflict", error=str(exc.orig))
        return _error(409, "this conflicts with a record saved a moment ago; reload and try again")

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(_request: Request, exc: DBAPIError) -> JSONResponse:
        return _database_unavailable(runtime, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # Bodies that are not even text (invalid UTF-8) are malformed JSON too.
            return JSONResponse({"detail": [{"loc": ["body"], "msg": "the body is not valid UTF-8 JSON",
                                             "type": "json_invalid"}]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_validation_error(e) for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)


def _include_routers(app: FastAPI) -> None:
    app.include_router(incidents.router, prefix="/api/v1", responses=API_ERRORS)
    app.include_router(records.router, prefix="/api/v1", responses=API_ERRORS)
    app.include_router(reports.router, prefix="/api/v1", responses=API_ERRORS)
    app.include_router(users.router, prefix="/api/v1", responses=API_ERRORS)
    app.include_router(accounts.router, prefix="/api/v1", responses=API_ERRORS)
    app.include_router(districts.router, prefix="/api/v1", responses=API_ERRORS)
    app.include_router(signins.router, prefix="/api/v1", responses=API_ERRORS)
    # Public routes: a signed link or a Twilio signature instead of a bearer token.
    app.include_router(ack.router)
    app.include_router(webhooks.router)
    app.include_router(voice.router)
    # People's pages under /, signed in with a session cookie (monitor/pages).
    app.include_router(pages_router)
    app.mount("/static", static_files(), name="static")


def _add_health_routes(app: FastAPI, runtime: Runtime, run_scheduler: bool) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready: what is wrong is named"}})
    async def readyz() -> JSONResponse:
        problems = {}
        try:
            await ping(runtime.engine)
        except Exception as exc:  # noqa: BLE001 - reported to the caller, not swallowed
            problems["database"] = f"unreachable: {type(exc).__name__}"
            if is_connection_error(exc):
                runtime.outage.noticed(exc, "readyz")
        if run_scheduler and not runtime.scheduler.running:
            problems["scheduler"] = "not running"
        body = {"status": "ready" if not problems else "not ready", **problems,
                "outbox_channels": runtime.outbox_channels}
        if "database" not in problems:
            runtime.outage.succeeded()
        if problems:
            return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return JSONResponse(body, status_code=200)

    @app.get("/metrics", tags=["health"], response_class=Response, responses={
        200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}})
    async def metrics() -> Response:
        try:
            async with runtime.sessions() as session:
                stored = await database_metrics(session, runtime.clock.now(), runtime.rules.obligation_keys(),
                                                {o.key: o.title for r in runtime.rules.rules for o in r.obligations})
        except DBAPIError as exc:
            if not is_connection_error(exc):
                raise
            # During an outage this process's own metrics (the database errors among
            # them) are still scraped; what the database holds is not.
            runtime.outage.noticed(exc, "metrics")
            stored = b""
        return Response(generate_latest(runtime.registry) + stored, media_type=CONTENT_TYPE_LATEST)


__all__ = ["create_app"]
