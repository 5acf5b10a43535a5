"""The rule engine's incremental state: every station's running models, fed once per point.

``keeper.StateKeeper`` reads what is new from InfluxDB (``source``), ``station.StationState``
orders and applies it, ``tank.TankModel`` keeps a tank's running statistics (``regression``),
``persist`` saves and loads it (registry table ``rule_state``), ``views`` shows the recent
records to the counting rules as query rows. See docs/rules.md, "The incremental engine".
"""
