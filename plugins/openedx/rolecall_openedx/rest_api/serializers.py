"""The request parameters of the admin console endpoints, read as openedx-authz reads them: the
same names, defaults, choices and 400 answers (DRF's ``{"field": ["message"]}``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

USER_SORTS = ("username", "full_name", "email")
ASSIGNMENT_SORTS = ("role", "org", "scope")
ALL_ASSIGNMENT_SORTS = (*ASSIGNMENT_SORTS, "full_name", "username", "email")
ORDERS = ("asc", "desc")
SCOPE_TYPES = ("course", "library")


class CommaList(serializers.CharField):
    """``a,b,c`` as a list without blanks or repeats (first kept); ``lower``: lower-cased."""

    def __init__(self, *, lower: bool = False, **kwargs: Any) -> None:
        self.lower = lower
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:  # type: ignore[override]
        text = str(super().to_internal_value(data))
        items = (i.strip() for i in text.split(","))
        return list(dict.fromkeys(i.lower() if self.lower else i for i in items if i))


class Lowered(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).strip().lower()


def _choice(choices: tuple[str, ...], default: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, default=default)


class PermissionQuery(serializers.Serializer[Any]):
    action = serializers.CharField(max_length=255)
    scope = serializers.CharField(max_length=255, required=False)


class ScopeQuery(serializers.Serializer[Any]):
    scope = serializers.CharField(max_length=255)


class TeamQuery(ScopeQuery):
    roles = CommaList(lower=True, required=False, default=[])
    search = Lowered(required=False, default=None)
    sort_by = _choice(USER_SORTS, "username")
    order = _choice(ORDERS, "asc")


class AssignBody(serializers.Serializer[Any]):
    """PUT roles/users/: ``role``, ``users`` and either ``scope`` (openedx-authz 0.23) or
    ``scopes`` (the console today); ``scopes`` makes every answer row name its scope."""

    role = serializers.CharField(max_length=255)
    scope = serializers.CharField(max_length=255, required=False, default=None, allow_null=True)
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, default=None
    )
    users = serializers.ListField(child=serializers.CharField(max_length=255), allow_empty=False)

    def validate_users(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scope, scopes = attrs.get("scope"), attrs.get("scopes")
        if scope and scopes is not None:
            raise serializers.ValidationError("Provide either 'scope' or 'scopes', not both.")
        listed = scopes if scopes is not None else ([scope] if scope else None)
        if not listed:  # as openedx-authz, whose ``scope`` is required
            raise serializers.ValidationError({"scope": ["This field is required."]})
        attrs["bulk"] = scopes is not None
        attrs["scopes"] = list(dict.fromkeys(listed))
        return attrs


class RemoveQuery(ScopeQuery):
    role = serializers.CharField(max_length=255)
    users = CommaList(lower=True, allow_blank=False)


class UsersBody(serializers.Serializer[Any]):
    users = serializers.ListField(child=serializers.CharField(max_length=255), allow_empty=False)

    def validate_users(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class UserAssignmentsQuery(serializers.Serializer[Any]):
    orgs = CommaList(required=False, default=[])
    roles = CommaList(required=False, default=[])
    sort_by = _choice(ASSIGNMENT_SORTS, "role")
    order = _choice(ORDERS, "asc")


class AssignmentsQuery(UserAssignmentsQuery):
    scopes = CommaList(required=False, default=[])
    search = Lowered(required=False, default=None)
    sort_by = _choice(ALL_ASSIGNMENT_SORTS, "full_name")


class ScopesQuery(serializers.Serializer[Any]):
    org = serializers.CharField(required=False, max_length=255)
    orgs = CommaList(required=False, default=[])
    search = serializers.CharField(required=False, default="", allow_blank=True)
    scope_type = serializers.ChoiceField(
        choices=SCOPE_TYPES, required=False, default=None, allow_null=True
    )
    management_permission_only = serializers.BooleanField(required=False, default=False)


class TeamMembersQuery(serializers.Serializer[Any]):
    scopes = CommaList(required=False, default=[])
    orgs = CommaList(required=False, default=[])
    search = Lowered(required=False, default=None)
    sort_by = _choice(USER_SORTS, "username")
    order = _choice(ORDERS, "asc")
