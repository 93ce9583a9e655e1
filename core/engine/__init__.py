"""The decision engine: the compiled in-memory index and the queries it answers."""

from .decisions import AccessEntry, Decision, GrantInfo, Team, TeamMember
from .index import Grant, Index

__all__ = ["AccessEntry", "Decision", "Grant", "GrantInfo", "Index", "Team", "TeamMember"]
