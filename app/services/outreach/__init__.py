"""Outreach: channels, consent and suppressions, templates, messages (journeys and campaigns to come)."""
