"""The background worker: the outbox dispatcher, webhook delivery and durable timers."""
