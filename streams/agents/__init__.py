"""Every agent module of the Faust app, in the order they are installed (each exposes ``install(app, ctx)``).

The games agents come first: they declare the ``schedule`` table that is read alongside the plays.
"""

from streams.agents import deployments, games, health, scaling

AGENTS = (games, scaling, health, deployments)
