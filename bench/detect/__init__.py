"""The detection bench (bench/detection.py): scenario matrix, feed, scoring, report."""
