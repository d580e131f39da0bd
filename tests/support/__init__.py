"""Helpers for the test suite that start real services."""
