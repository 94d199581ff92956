"""Risk and sizing, proposals, execution, monitor and the AI-log outbox."""
