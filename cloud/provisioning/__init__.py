"""Gateway provisioning: identities and keys, certificates, broker accounts, config bundles."""
