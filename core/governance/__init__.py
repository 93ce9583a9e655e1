"""Governance: who may change whose access (delegation rules and guards)."""

from .delegation import Delegation, NotAllowedError, Refusal

__all__ = ["Delegation", "NotAllowedError", "Refusal"]
