"""The management API (FastAPI): ``fuelwatch.cloud.api.app.create_app`` composes the routers in
``routes/``. This package's ``__init__`` imports nothing, so the ``fuelwatch`` command (which
the gateway also runs) registers ``cloud api`` without loading FastAPI."""
