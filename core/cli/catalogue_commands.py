"""Commands about the permission catalogue (roles in words, the generated docs)."""
