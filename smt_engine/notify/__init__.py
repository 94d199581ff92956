"""Outbound notifications to the operator (apprise), derived from the events table through an outbox."""
