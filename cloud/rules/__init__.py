"""Rule settings shared by the rule engine and the API (``store``)."""
