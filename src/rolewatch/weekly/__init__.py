"""The weekly account audit's own parts: week-over-week diff, summary for SNS, report store in S3."""
