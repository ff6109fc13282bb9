"""Hemi RTL generators (Amaranth 0.5)."""
