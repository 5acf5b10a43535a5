"""Shared by every cloud subsystem: settings, warning categories, masking, the ops HTTP server."""
