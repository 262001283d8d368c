"""Where security teams already work: Security Hub (ASFF), the chat copy (Amazon Q Developer custom
notifications) and the EventBridge audit-result event.

The services call `Integrations.deliver` once per audit, before the SNS report is composed, so the
report can name an integration that failed (rolewatch.integrations.dispatch).
"""
