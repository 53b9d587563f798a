"""The API's reference at /schema: Swagger UI, with its script, style and icon served by this process
from api/static/openapi (vendored from npm, see its README), so the page needs no network; and the
OpenAPI document at /schema/openapi.json (api/contract.py says what it holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.router import Router
from litestar.static_files import create_static_files_router

from api.contract import API_KEY

SWAGGER_UI: Final = "5.36.0"  # swagger-ui-dist, as vendored
ASSETS_DIR: Final = Path(__file__).with_name("static") / "openapi"
ASSETS_PATH: Final = "/schema/ui"


def openapi_config(version: str) -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        version=SWAGGER_UI,
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return OpenAPIConfig(
        title="AI Workflow Platform",
        version=version,
        path="/schema",
        components=Components(security_schemes={API_KEY: SecurityScheme(type="http", scheme="bearer")}),
        security=[{API_KEY: []}],
        render_plugins=[swagger],
    )


def assets() -> Router:
    """Their names carry no hash: kept a day, revalidated after."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        include_in_schema=False,
        cache_control=CacheControlHeader(public=True, max_age=86_400),
    )
