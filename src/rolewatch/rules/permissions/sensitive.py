"""Actions whose grant on every resource gives data or credentials: what data-exfiltration and
credentials-exposure report, and what a role reached by escalation is judged to give.
"""

from __future__ import annotations

# Reads that return data rather than configuration (data-exfiltration in the README: objects, secrets,
# parameters, table items, decrypted keys). The catalogue has no such class, so this is ours.
SENSITIVE_DATA_READS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:Decrypt",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PartiQLSelect",
    "ebs:GetSnapshotBlock",
    "rds:DownloadDBLogFilePortion",
)


# policy_sentry's credentials-exposure list, checked against the README's categories ("obtaining credentials or
# secrets that act as credentials"). Analysed elsewhere: sts:AssumeRole* is role chaining (privilege
# escalation). Not credentials: iam:UpdateAccessKey only switches a key's status. Only IAM users can
# call sts:GetFederationToken and sts:GetSessionToken (AWS STS API reference), so a role holding them
# obtains nothing. A registry token for container pulls is expected on every container host.
CREDENTIALS_HANDLED_ELSEWHERE = {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"}
CREDENTIALS_NOT_OBTAINED = {"iam:updateaccesskey"}


CREDENTIALS_USERS_ONLY = {"sts:getfederationtoken", "sts:getsessiontoken"}
CREDENTIALS_LOW_RISK = {"ecr:getauthorizationtoken"}
