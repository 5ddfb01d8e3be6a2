"""Safe deployments: safety rules, canary analysis, the deployment manager and its controller."""
