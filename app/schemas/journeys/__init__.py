"""Journeys on the wire."""
