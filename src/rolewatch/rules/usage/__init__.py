"""Usage rules: what the role's last use says."""
