"""`make demo`: the real event pipeline on an embedded AWS (a moto server in this process).

Run it with `python -m rolewatch.demo`. It needs no AWS credentials and no network: it starts moto on a
loopback port, creates what template.yaml would (KMS key, SNS topic, S3 report bucket, DynamoDB
idempotency table) plus an SQS queue subscribed to the topic, seeds a realistic account, makes risky
changes through the API, replays the CloudTrail events of those calls through the Lambda handler, and
prints what a subscriber of the topic receives. Development tooling only: the Lambda never imports it.
"""
