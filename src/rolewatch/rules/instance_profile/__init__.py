"""Instance-profile rules: roles that run on EC2 instances."""
