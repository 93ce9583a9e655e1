"""Governance: who may change whose access (delegation rules and guards)."""

from .delegation import Delegation, NotAllowedError, Refusal
from .whatif import Change, Impact, what_if_assign, what_if_revoke, what_if_role_change

__all__ = [
    "Change",
    "Delegation",
    "Impact",
    "NotAllowedError",
    "Refusal",
    "what_if_assign",
    "what_if_revoke",
    "what_if_role_change",
]
