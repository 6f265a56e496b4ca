"""Temporal activities: every side effect a workflow needs (read model, notices, interfaces). Idempotent."""
