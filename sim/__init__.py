"""The physical station simulator (``fuelwatch sim``).

``state`` is the contract between the station model (physics, customers, deliveries, fraud
scenarios) and the protocol servers that expose it (TLS-350, Modbus, POS pushes): servers
only ever read a ``StationView``; the model is the only writer. ``station.Station`` is the
model, ``scenario`` its YAML input, ``offline.gateway_records`` the fast path for benchmarks,
``serve.SERVERS`` what ``fuelwatch sim run --serve`` can start. See docs/simulator.md.
"""
