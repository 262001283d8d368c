"""Permission rules: what the role's effective permissions let it do on every resource."""
