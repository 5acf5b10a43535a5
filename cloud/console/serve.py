"""The ASGI app uvicorn serves: the API with the console, settings from the environment."""

from __future__ import annotations

from fuelwatch.cloud.common.settings import CloudSettings
from fuelwatch.cloud.console.app import create_web_app

app = create_web_app(CloudSettings())
