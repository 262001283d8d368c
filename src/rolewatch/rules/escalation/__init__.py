"""Privilege escalation: methods a role holds by itself, and roles it can become that hold more."""
