"""Trust-policy rules: who may assume the role, and under which conditions (one module per rule)."""
