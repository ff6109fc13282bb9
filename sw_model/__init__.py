"""Hemi's bit-exact NumPy golden models."""
