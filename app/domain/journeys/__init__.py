"""Journeys: durable multi-step automations (their document, waits and statistics)."""
