"""Journeys: durable multi-step automations."""
