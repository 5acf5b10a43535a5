"""The ASGI app uvicorn serves: settings from the environment, schema checked at start."""

from __future__ import annotations

from cloud.api.app import create_app
from cloud.settings import CloudSettings

app = create_app(CloudSettings())
