"""Journeys: durable multi-step automations, their versions and enrolments."""
