"""Deployment effectors: the deployment agent of a league server, the manager runner, the git executor."""
