"""Device adapters. Registration is explicit, in ``gateway.adapters.registry``."""
