"""Offline policy validation in the spirit of IAM Access Analyzer's ValidatePolicy."""
