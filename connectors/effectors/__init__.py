"""Consumers that carry commands out: tweets, alerts, scaling, remediation, deployments."""
