"""The API's documents for a newcomer, offline (issue 19): Swagger UI at /docs
and ReDoc at /redoc from the assets the ``fastapi-offline`` package ships (no
CDN: a duty room's network often has no internet), a bearer security scheme
so that "Authorize" works, and a description and an example for every
operation. Descriptions come from the handlers' docstrings; those that have
none get theirs here, so the route modules stay as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
STATIC = "/api-docs/static"
SCHEME = "bearer"

DESCRIPTION = (
    "Deadlines of major emergencies: authoritative release within 5 h, press conference within 24 h, "
    "escalated until met.\n\n"
    "**Sign in for the API**: every `/api/v1` call takes `Authorization: Bearer <token>`. A token comes from "
    "`sunclock user create --name NAME --role ROLE` (printed once) or is `SUNCLOCK_ADMIN_TOKEN`. Press "
    "**Authorize**, paste the token, and the examples below can be tried here. Times are ISO-8601 with an "
    "offset (`2026-11-28T09:30:00+08:00`); a time without one is refused with 422."
)

# (method, path) -> description, for handlers without a docstring.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("post", "/api/v1/incidents"): "Register an incident the moment it is known. `occurred_at` is when it "
    "happened, not when it was reported: the legal clock runs from it. The answer lists its obligations "
    "with their due times; the head is told at once.",
    ("get", "/api/v1/incidents"): "Incidents, newest first; `state=open|closed`. A department head sees their "
    "own department's only.",
    ("get", "/api/v1/incidents/{incident_id}"): "One incident with its obligations and their states.",
    ("patch", "/api/v1/incidents/{incident_id}"): "Correct the start time or the severity, with a reason. Due "
    "times move; a correction that makes a deadline overdue breaches it at once.",
    ("post", "/api/v1/incidents/{incident_id}/milestones"): "Record that a duty was done (e.g. the release was "
    "published) and when: `met` by its due time, `met_late` after. 409 if already recorded.",
    ("post", "/api/v1/incidents/{incident_id}/close"): "Close the incident, with a reason. Unmet duties are not "
    "discharged: they become waiver requests for a supervisor, and their clocks go on.",
    ("get", "/api/v1/incidents/{incident_id}/timeline"): "Everything that happened to the incident, in order, "
    "each entry hash-chained to the one before (`sunclock audit verify`).",
    ("post", "/api/v1/departments"): "Add a department with its contacts (head, deputies; mobile in E.164).",
    ("get", "/api/v1/departments"): "Every department with its contacts.",
    ("get", "/api/v1/cases"): "Accountability cases opened by breaches; `state=pending|decided`.",
    ("post", "/api/v1/cases/{case_id}/decision"): "A supervisor decides a case: `notice` (通报批评), `summons` "
    "(约谈) or `waived`, with a reason.",
    ("get", "/ack/{token}"): "The acknowledgement page behind the signed link in every message.",
    ("post", "/ack/{token}"): "Acknowledge the message (签收). It never stops the legal clock.",
    ("post", "/webhooks/twilio/status"): "Twilio's delivery status callback; needs a valid X-Twilio-Signature.",
    ("post", "/webhooks/twilio/sms"): "An SMS reply: `1` acknowledges the latest message to that number.",
    ("post", "/webhooks/twilio/voice/{token}"): "A key press during a warning call (TwiML Gather): `1` "
    "acknowledges the call's message. Needs a valid X-Twilio-Signature.",
    ("get", "/healthz"): "The process is up.",
    ("get", "/readyz"): "The database is reachable and the scheduler running.",
    ("get", "/metrics"): "Prometheus metrics (SPEC §7).",
}

# Schema name -> one example, shown by Swagger UI and ReDoc and filled into "Try it out".
EXAMPLES: dict[str, dict[str, Any]] = {
    "IncidentCreate": {"title": "白蕉镇化工厂爆炸事故", "kind": "emergency", "severity": "I",
                       "occurred_at": "2026-11-28T09:30:00+08:00",
                       "department": "EMB", "location": "白蕉镇工业园", "description": "储罐爆炸，已疏散周边人员。"},
    "IncidentPatch": {"occurred_at": "2026-11-28T09:10:00+08:00", "reason": "现场核实，爆炸发生在 9:10"},
    "MilestoneCreate": {"obligation": "authoritative_release", "at": "2026-11-28T12:40:00+08:00",
                        "evidence_url": "https://www.example.gov.cn/xxgk/2026/1128.html", "note": "区政府网站发布"},
    "DistrictCreate": {"code": "XZ", "name": "香洲区"},
    "StandInCreate": {"contact": "王局长", "standin": {"name": "李副局长", "mobile": "+8613800000002",
                                                      "email": "li@emb.example.org"},
                      "from": "2026-12-05T08:00:00+08:00", "to": "2026-12-07T20:00:00+08:00",
                      "reason": "出差，由李副局长主持工作"},
    "ExtensionRequest": {"working_days": 20, "reason": "需要向第三方征求意见（条例第三十二条），经机构负责人同意延长"},
    "MilestoneWithdrawal": {"reason": "误记为已发布，实际稿件尚未上网"},
    "CloseRequest": {"reason": "现场处置完毕，转入善后"},
    "WaiverDecision": {"decision": "refused", "reason": "仍须召开新闻发布会"},
    "CaseDecision": {"decision": "notice", "reason": "未在 5 小时内发布权威信息"},
    "DepartmentCreate": {"code": "EMB", "name": "区应急管理局", "supervisory": False, "contacts": [
        {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"}]},
    "ContactIn": {"name": "王局长", "role": "head", "mobile": "+8613800000001", "email": "wang@emb.example.org"},
    "ObligationPublic": {"key": "authoritative_release", "title": "发布权威信息",
                         "due_at": "2026-11-28T06:30:00Z", "state": "pending", "fulfilled_at": None,
                         "breached_at": None, "evidence_url": None, "note": None, "waiver": None},
    "TimelineEntryPublic": {"at": "2026-11-28T01:31:00Z", "kind": "registered", "actor": "duty",
                            "detail": {"title": "白蕉镇化工厂爆炸事故", "severity": "I"}, "hash": "9f2c…",
                            "prev_hash": ""},
    "NotificationPublic": {"id": 12, "incident_id": 7, "obligation": "authoritative_release", "step": "warning",
                           "channel": "sms", "to": "+8613800000001", "planned_at": "2026-11-28T05:30:00Z",
                           "sent_at": "2026-11-28T05:30:00Z", "state": "delivered", "attempts": 1, "late": False},
    "CasePublic": {"id": 3, "incident_id": 7, "department": "EMB", "obligation": "authoritative_release",
                   "breached_at": "2026-11-28T06:30:00Z", "decision": "pending", "reason": None,
                   "decided_at": None, "decided_by": None, "breach_withdrawn": False},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "sc_… token",
        "description": "A user's API token (sunclock user create) or SUNCLOCK_ADMIN_TOKEN."}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not operation.get("description") and (method, path) in DESCRIPTIONS:
                operation["description"] = DESCRIPTIONS[(method, path)]
            if path.startswith("/api/v1/"):
                operation.setdefault("security", [{SCHEME: []}])
    for name, example in EXAMPLES.items():
        if name in components.get("schemas", {}):
            components["schemas"][name].setdefault("examples", [example])
    app.openapi_schema = schema
    return schema


def install(app: FastAPI) -> None:
    """Swagger UI at /docs, ReDoc at /redoc, both from local assets; the OpenAPI document with a bearer scheme.
    The app is made with ``docs_url=None, redoc_url=None`` so that these replace FastAPI's CDN pages."""
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="api-docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API",
                                   swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{STATIC}/swagger-ui.css",
                                   swagger_favicon_url=f"{STATIC}/favicon.png",
                                   oauth2_redirect_url="/docs/oauth2-redirect",
                                   swagger_ui_parameters={"persistAuthorization": True})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API",
                              redoc_js_url=f"{STATIC}/redoc.standalone.js",
                              redoc_favicon_url=f"{STATIC}/favicon.png", with_google_fonts=False)
