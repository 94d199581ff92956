"""SMT: the headless trading engine."""
