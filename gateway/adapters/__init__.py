"""Device adapters. Registration is explicit, in ``fuelwatch.gateway.adapters.registry``."""
