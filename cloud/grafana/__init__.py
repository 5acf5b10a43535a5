"""Grafana for fuelwatch: dashboards as code and the per-department sync.

- ``folders.py``: the dashboard folders and which departments see them. Both the dashboard
  provisioning and ``fuelwatch grafana sync`` read it, so folder uids never drift apart.
- ``dashboards/``: the dashboards, built with grafana-foundation-sdk (a dev dependency) and
  written as JSON to ``grafana/dashboards/`` by ``fuelwatch grafana build``; Grafana loads
  that JSON through file provisioning (``grafana/provisioning/``).
- ``sync/``: registry -> desired Grafana state (teams, folders, permissions, users, contact
  points) -> a diff against what Grafana has -> applied through grafana-client (the optional
  ``[grafana]`` extra).
"""
