"""An API a newcomer can explore offline (issue 19): Swagger UI and ReDoc from
local assets, a bearer scheme for "Authorize", and a description and an example
for every operation."""

from __future__ import annotations

import re


async def test_swagger_ui_and_redoc_load_nothing_from_outside(client):
    for url in ("/docs", "/redoc"):
        page = await client.get(url, headers={"Authorization": ""})
        assert page.status_code == 200
        outside = [u for u in re.findall(r'(?:src|href)="([^"]+)"', page.text) if not u.startswith("/")]
        assert outside == [], (url, outside)
        assert "cdn" not in page.text and "googleapis" not in page.text
        for asset in re.findall(r'(?:src|href)="(/api-docs/static/[^"]+)"', page.text):
            assert (await client.get(asset)).status_code == 200, asset
    swagger = (await client.get("/docs")).text
    assert "/api-docs/static/swagger-ui-bundle.js" in swagger and "/api-docs/static/swagger-ui.css" in swagger
    assert "/api-docs/static/redoc.standalone.js" in (await client.get("/redoc")).text


async def test_the_document_has_a_bearer_scheme_and_every_operation_a_description_and_example(client):
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "sc_… token",
        "description": "A user's API token (sunclock user create) or SUNCLOCK_ADMIN_TOKEN."}
    schemas = schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), (method, path)
            if path.startswith("/api/v1/"):
                assert operation["security"] == [{"bearer": []}], (method, path)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body and "$ref" in body:
                name = body["$ref"].rsplit("/", 1)[1]
                assert schemas[name].get("examples"), (method, path, name)
    assert "Authorization: Bearer" in schema["info"]["description"]
