"""The device protocols as the simulated devices speak them, written from the protocol documents.

These encoders are the simulator's own: they do not import or copy the gateway's codecs, so a
round trip (simulator -> gateway adapter) compares two independent readings of each manual,
and both are checked against the golden frames in ``tests/data/frames/``.
"""
