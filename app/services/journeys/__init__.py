"""The journeys context: journeys (durable multi-step automations), their versions, enrolments, and
the worker's engine that runs them."""
