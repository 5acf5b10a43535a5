"""fuelwatch: supervision platform for retail fuel stations.

One namespace, folders as layers (docs/architecture.md):

- ``fuelwatch.core`` (``core/``): records, wire protocol, MQTT client, config, retry policy;
- ``fuelwatch.gateway`` (``gateway/``): the station side, on top of the core;
- ``fuelwatch.cloud`` (``cloud/``): the server side, on top of the core;
- ``fuelwatch.sim`` (``sim/``): the virtual station, on top of the core;
- this package itself: the composition root (the CLI, the local stack, the demo).

The top-level folders are mapped into the namespace by the links in ``fuelwatch/``.
"""

from fuelwatch.core import __version__

__all__ = ["__version__"]
