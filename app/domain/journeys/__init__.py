"""Journeys: durable multi-step automations for one person at a time (a lead or a contact)."""
