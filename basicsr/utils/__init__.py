"""Utilities shared by every part of the framework (no dependency on networks, data or models)."""
