"""Rules: pure functions over a RuleContext, registered with @rule; metadata in catalogue.yaml."""

from rolewatch.rules import (
    baseline_rules,
    instance_profile_rules,
    permission_rules,
    privilege_escalation,
    trust_condition_rules,
    trust_rules,
    usage_rules,
    validation_rules,
)

RULE_MODULES = (
    permission_rules,
    privilege_escalation,
    trust_rules,
    trust_condition_rules,
    instance_profile_rules,
    validation_rules,
    baseline_rules,
    usage_rules,
)
