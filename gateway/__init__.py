"""The station gateway: device adapters -> on-disk spool -> signed MQTT publisher.

Runs on the station PC (soft gateway) or on a plug-in box; the same code either way.
"""
