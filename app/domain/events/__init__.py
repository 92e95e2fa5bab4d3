"""The events context: events, webhooks, jobs and timers."""
