"""Device settings and profiles: the contract between provisioning, the gateway and the simulator.

One pydantic model per device type (``catalogue.DEVICE_TYPES`` lists them) and the Modbus
register-map profiles of ``firmware_configs/`` (``profile``). Pure data: no I/O, no codec.
"""
