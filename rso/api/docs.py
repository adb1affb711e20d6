"""The API's documentation page, /docs: Swagger UI from files served here (the fastapi-offline
package carries them), so it works offline and under the pages' Content-Security-Policy."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER = Path(str(files("fastapi_offline") / "static"))
OURS = Path(__file__).with_name("static")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API</title>
  <link rel="stylesheet" href="/static/swagger/swagger-ui.css">
  <link rel="icon" href="/static/swagger/favicon.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/static/swagger/swagger-ui-bundle.js"></script>
  <script src="/static/api/docs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """/docs, and the files it loads (mounted ahead of the pages' /static)."""
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER), name="swagger")
    app.mount("/static/api", StaticFiles(directory=OURS), name="api-static")

    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=app.title))

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
