"""Credentials of the API: operator tokens and league-server API keys."""
