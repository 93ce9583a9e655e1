"""`build_registry`: merging, closing and validating the contributions of several plugins."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from rolecall.builtin_plugins.platform import register_scope_types
from rolecall.core import (
    BadInputError,
    ConsolePage,
    Contribution,
    DelegationRule,
    ParsedKey,
    Permission,
    PermissionFactory,
    Registry,
    RegistryError,
    Risk,
    Role,
    ScopeType,
    build_registry,
)

# --- helpers -------------------------------------------------------------------------------


def perm(
    pid: str, *, implies: tuple[str, ...] = (), scope_types: tuple[str, ...] = ("course",)
) -> Permission:
    return Permission(
        id=pid,
        title=f"Title of {pid}",
        description=f"Description of {pid}.",
        area="Testing",
        scope_types=scope_types,
        implies=implies,
    )


def role(
    rid: str,
    *,
    permissions: tuple[str, ...] = (),
    includes: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    grants_all: bool = False,
    scope_types: tuple[str, ...] = ("course",),
) -> Role:
    return Role(
        id=rid,
        title=f"Title of {rid}",
        description=f"Description of {rid}.",
        scope_types=scope_types,
        permissions=permissions,
        includes=includes,
        aliases=aliases,
        grants_all=grants_all,
    )


def scope_type(type_id: str, namespace: str) -> ScopeType:
    def parse(key: str) -> ParsedKey:
        return ParsedKey(fields={}, parent="platform")

    return ScopeType(
        id=type_id,
        title=f"Title of {type_id}",
        description=f"Description of {type_id}.",
        namespace=namespace,
        pattern=f"{namespace}:X",
        example=f"{namespace}:x",
        parse=parse,
    )


def platform() -> Contribution:
    return Contribution(plugin="platform", scope_types=tuple(register_scope_types()))


def build(*contributions: Contribution) -> Registry:
    """The registry of the real platform scope types followed by ``contributions``."""
    return build_registry([platform(), *contributions])


def fails(*contributions: Contribution, match: str) -> RegistryError:
    """Assert building fails with a message that matches ``match`` exactly (whole message)."""
    with pytest.raises(RegistryError) as info:
        build(*contributions)
    assert re.fullmatch(match, str(info.value)), str(info.value)
    return info.value


# --- merging and closing -------------------------------------------------------------------


def test_platform_scope_types_alone_build_an_empty_registry() -> None:
    registry = build()
    assert set(registry.scope_types) == {"platform", "org", "course", "library"}
    assert dict(registry.permissions) == {}
    assert dict(registry.roles) == {}


def test_implications_are_closed_transitively() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.a", implies=("alpha.b",)),
                perm("alpha.b", implies=("alpha.c",)),
                perm("alpha.c"),
            ),
        )
    )
    assert registry.implied["alpha.a"] == {"alpha.a", "alpha.b", "alpha.c"}
    assert registry.implied["alpha.b"] == {"alpha.b", "alpha.c"}
    assert registry.implied["alpha.c"] == {"alpha.c"}


def test_implications_close_across_plugins() -> None:
    registry = build(
        Contribution(plugin="alpha", permissions=(perm("alpha.view"),)),
        Contribution(plugin="beta", permissions=(perm("beta.edit", implies=("alpha.view",)),)),
    )
    assert registry.implied["beta.edit"] == {"beta.edit", "alpha.view"}


def test_role_permissions_include_what_its_permissions_imply() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(perm("alpha.edit", implies=("alpha.view",)), perm("alpha.view")),
            roles=(role("editor", permissions=("alpha.edit",)),),
        )
    )
    assert registry.role_permissions["editor"] == {"alpha.edit", "alpha.view"}


def test_role_including_roles_gets_the_union_of_their_permissions() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.view"),
                perm("alpha.grade"),
                perm("alpha.edit", implies=("alpha.view",)),
                perm("alpha.other"),
            ),
            roles=(
                role("viewer", permissions=("alpha.view",)),
                role("grader", permissions=("alpha.grade",), includes=("viewer",)),
                role("boss", permissions=("alpha.edit",), includes=("grader",)),
            ),
        )
    )
    assert registry.role_permissions["viewer"] == {"alpha.view"}
    assert registry.role_permissions["grader"] == {"alpha.view", "alpha.grade"}
    assert registry.role_permissions["boss"] == {"alpha.view", "alpha.grade", "alpha.edit"}


def test_role_with_no_permissions_has_an_empty_set() -> None:
    registry = build(Contribution(plugin="alpha", roles=(role("nobody"),)))
    assert registry.role_permissions["nobody"] == frozenset()


def test_grants_all_gives_every_permission_of_every_plugin() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(perm("alpha.a"), perm("alpha.b")),
            roles=(role("admin", grants_all=True, scope_types=("platform",)),),
        ),
        Contribution(plugin="beta", permissions=(perm("beta.c"),)),
    )
    assert registry.role_permissions["admin"] == {"alpha.a", "alpha.b", "beta.c"}


def test_including_a_grants_all_role_gives_every_permission() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(perm("alpha.a"), perm("alpha.b")),
            roles=(
                role("admin", grants_all=True, scope_types=("platform",)),
                role("super", includes=("admin",), scope_types=("platform",)),
            ),
        )
    )
    assert registry.role_permissions["super"] == {"alpha.a", "alpha.b"}


def test_alias_resolves_to_its_role() -> None:
    registry = build(
        Contribution(plugin="alpha", roles=(role("course_staff", aliases=("staff", "Staff")),))
    )
    assert registry.role("staff").id == "course_staff"
    assert registry.role("Staff").id == "course_staff"
    assert registry.role("course_staff").id == "course_staff"
    assert registry.aliases == {"staff": "course_staff", "Staff": "course_staff"}


def test_unknown_role_name_raises_bad_input() -> None:
    registry = build(Contribution(plugin="alpha", roles=(role("course_staff"),)))
    with pytest.raises(BadInputError, match=r"^unknown role 'staff'; `rolecall roles` lists them$"):
        registry.role("staff")


def test_permission_lookup_and_unknown_permission() -> None:
    registry = build(Contribution(plugin="alpha", permissions=(perm("alpha.view"),)))
    assert registry.permission("alpha.view").id == "alpha.view"
    with pytest.raises(BadInputError, match=r"^unknown permission 'alpha.edit'; "):
        registry.permission("alpha.edit")


def test_implication_path_follows_the_chain() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.a", implies=("alpha.b",)),
                perm("alpha.b", implies=("alpha.c",)),
                perm("alpha.c"),
            ),
        )
    )
    assert registry.implication_path("alpha.a", "alpha.c") == ("alpha.a", "alpha.b", "alpha.c")
    assert registry.implication_path("alpha.a", "alpha.b") == ("alpha.a", "alpha.b")
    assert registry.implication_path("alpha.a", "alpha.a") == ("alpha.a",)


def test_implication_path_is_none_against_the_direction_of_implication() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(perm("alpha.a", implies=("alpha.b",)), perm("alpha.b"), perm("alpha.z")),
        )
    )
    assert registry.implication_path("alpha.b", "alpha.a") is None
    assert registry.implication_path("alpha.a", "alpha.z") is None
    assert registry.implication_path("alpha.unknown", "alpha.a") is None


def test_implication_path_is_the_shortest_one() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.a", implies=("alpha.long1", "alpha.c")),
                perm("alpha.long1", implies=("alpha.long2",)),
                perm("alpha.long2", implies=("alpha.d",)),
                perm("alpha.c", implies=("alpha.d",)),
                perm("alpha.d"),
            ),
        )
    )
    assert registry.implication_path("alpha.a", "alpha.d") == ("alpha.a", "alpha.c", "alpha.d")


def test_contributed_by_lists_each_plugins_ids_by_kind() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            scope_types=(scope_type("thing", "thing-v1"),),
            permissions=(perm("alpha.a"), perm("alpha.b")),
            roles=(role("alpha_role", permissions=("alpha.a",), aliases=("legacy",)),),
        ),
        Contribution(plugin="beta", permissions=(perm("beta.c"),)),
    )
    assert registry.contributed_by("alpha") == {
        "scope_types": ["thing"],
        "permissions": ["alpha.a", "alpha.b"],
        "roles": ["alpha_role"],
        "rules": [],
        "console_pages": [],
        "derived_roles": [],
    }
    assert registry.contributed_by("beta") == {
        "scope_types": [],
        "permissions": ["beta.c"],
        "roles": [],
        "rules": [],
        "console_pages": [],
        "derived_roles": [],
    }
    assert registry.contributed_by("platform") == {
        "scope_types": ["platform", "org", "course", "library"],
        "permissions": [],
        "roles": [],
        "rules": [],
        "console_pages": [],
        "derived_roles": [],
    }
    assert registry.contributed_by("nobody") == {
        "scope_types": [],
        "permissions": [],
        "roles": [],
        "rules": [],
        "console_pages": [],
        "derived_roles": [],
    }


def test_origin_names_the_contributing_plugin_and_hides_internal_keys() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(perm("alpha.a"),),
            roles=(role("alpha_role", aliases=("legacy",)),),
        )
    )
    assert registry.origin["permission:alpha.a"] == "alpha"
    assert registry.origin["role:alpha_role"] == "alpha"
    assert registry.origin["scope_type:course"] == "platform"
    assert not [k for k in registry.origin if k.startswith(("namespace:", "alias:"))]


def test_registry_mappings_are_read_only() -> None:
    registry = build(Contribution(plugin="alpha", permissions=(perm("alpha.a"),)))
    with pytest.raises(TypeError):
        registry.permissions["alpha.b"] = perm("alpha.b")  # type: ignore[index]


def test_registry_resolves_scopes_of_its_scope_types() -> None:
    registry = build(Contribution(plugin="alpha", scope_types=(scope_type("thing", "thing-v1"),)))
    assert registry.scopes.resolve("thing-v1:x").chain == ("thing-v1:x", "platform")
    assert registry.scopes.resolve("org:MITx").type == "org"


# --- duplicates ----------------------------------------------------------------------------


def test_duplicate_permission_across_plugins_names_both_in_load_order() -> None:
    error = fails(
        Contribution(plugin="zeta", permissions=(perm("shared.view"),)),
        Contribution(plugin="alpha", permissions=(perm("shared.view"),)),
        match=r"duplicate permission 'shared\.view': registered by plugins 'zeta' and 'alpha'",
    )
    assert error.plugins == ("zeta", "alpha")
    assert error.culprit == "alpha"
    assert error.item == "shared.view"


def test_duplicate_role_across_plugins() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("staff"),)),
        Contribution(plugin="beta", roles=(role("staff"),)),
        match=r"duplicate role 'staff': registered by plugins 'alpha' and 'beta'",
    )
    assert error.plugins == ("alpha", "beta")
    assert error.culprit == "beta"
    assert error.item == "staff"


def test_duplicate_scope_type_id_with_a_builtin() -> None:
    error = fails(
        Contribution(plugin="alpha", scope_types=(scope_type("course", "course-v2"),)),
        match=r"duplicate scope type 'course': registered by plugins 'platform' and 'alpha'",
    )
    assert error.plugins == ("platform", "alpha")
    assert error.culprit == "alpha"
    assert error.item == "course"


def test_duplicate_scope_key_namespace() -> None:
    error = fails(
        Contribution(plugin="alpha", scope_types=(scope_type("course2", "course-v1"),)),
        match=(
            r"duplicate scope key namespace 'course-v1': registered by plugins "
            r"'platform' and 'alpha'"
        ),
    )
    assert error.plugins == ("platform", "alpha")
    assert error.culprit == "alpha"
    assert error.item == "course-v1"


def test_duplicate_permission_within_one_plugin() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.a"), perm("alpha.a"))),
        match=r"plugin 'alpha' registers permission 'alpha\.a' twice",
    )
    assert error.plugins == ("alpha",)
    assert error.culprit == "alpha"
    assert error.item == "alpha.a"


def test_duplicate_role_within_one_plugin() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("staff"), role("staff"))),
        match=r"plugin 'alpha' registers role 'staff' twice",
    )
    assert error.plugins == ("alpha",)


def test_duplicate_scope_type_within_one_plugin() -> None:
    error = fails(
        Contribution(
            plugin="alpha",
            scope_types=(scope_type("thing", "thing-v1"), scope_type("thing", "thing-v2")),
        ),
        match=r"plugin 'alpha' registers scope type 'thing' twice",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "thing"


def test_alias_equal_to_another_roles_id() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("course_staff"),)),
        Contribution(plugin="beta", roles=(role("beta_role", aliases=("course_staff",)),)),
        match=(
            r"role alias 'course_staff' of role 'beta_role' \(plugin 'beta'\) is the id of "
            r"role 'course_staff' \(plugin 'alpha'\)"
        ),
    )
    assert error.plugins == ("alpha", "beta")
    assert error.culprit == "beta"
    assert error.item == "course_staff"


def test_alias_duplicated_across_plugins() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("alpha_role", aliases=("instructor",)),)),
        Contribution(plugin="beta", roles=(role("beta_role", aliases=("instructor",)),)),
        match=r"duplicate role alias 'instructor': registered by plugins 'alpha' and 'beta'",
    )
    assert error.plugins == ("alpha", "beta")
    assert error.culprit == "beta"
    assert error.item == "instructor"


# --- unknown references --------------------------------------------------------------------


def test_role_using_unknown_permission() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.view"),)),
        Contribution(plugin="beta", roles=(role("beta_role", permissions=("alpha.edit",)),)),
        match=r"role 'beta_role' \(plugin 'beta'\) uses unknown permission 'alpha\.edit'",
    )
    assert error.plugins == ("beta",)
    assert error.culprit == "beta"
    assert error.item == "beta_role"


def test_role_including_unknown_role() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("alpha_role", includes=("ghost",)),)),
        match=r"role 'alpha_role' \(plugin 'alpha'\) includes unknown role 'ghost'",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha_role"


def test_role_assignable_at_unknown_scope_type() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("alpha_role", scope_types=("galaxy",)),)),
        match=r"role 'alpha_role' \(plugin 'alpha'\) is assignable at unknown scope type 'galaxy'",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha_role"


def test_permission_applying_to_unknown_scope_type() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.a", scope_types=("galaxy",)),)),
        match=r"permission 'alpha\.a' \(plugin 'alpha'\) applies to unknown scope type 'galaxy'",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha.a"


def test_permission_implying_unknown_permission() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.a", implies=("beta.b",)),)),
        match=r"permission 'alpha\.a' \(plugin 'alpha'\) implies unknown permission 'beta\.b'",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha.a"


def _rule(**fields: object) -> DelegationRule:
    values: dict[str, object] = {
        "id": "alpha_rule",
        "description": "A rule.",
        "holders": ("alpha_role",),
        "scope_types": ("course",),
    }
    return DelegationRule.model_validate({**values, **fields})


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"assign": ("ghost",)}, r"names unknown role 'ghost'"),
        ({"holders": ("ghost",)}, r"names unknown role 'ghost'"),
        ({"revoke": ("*", "ghost")}, r"names unknown role 'ghost'"),
        ({"scope_types": ("galaxy",)}, r"names unknown scope type 'galaxy'"),
    ],
)
def test_delegation_rule_naming_an_unknown_role_or_scope_type(
    fields: dict[str, object], match: str
) -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("alpha_role"),), rules=(_rule(**fields),)),
        match=r"delegation rule 'alpha_rule' \(plugin 'alpha'\) " + match,
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha_rule"


def test_role_revocable_by_an_unknown_role() -> None:
    sensitive = role("alpha_role").model_copy(update={"revocable_by": ("ghost",)})
    error = fails(
        Contribution(plugin="alpha", roles=(sensitive,)),
        match=r"role 'alpha_role' \(plugin 'alpha'\) is revocable by unknown role 'ghost'",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha_role"


def test_scope_type_of_a_later_plugin_can_be_used_by_an_earlier_one() -> None:
    """References are checked after every plugin's records are in, not in load order."""
    registry = build(
        Contribution(plugin="alpha", permissions=(perm("alpha.a", scope_types=("thing",)),)),
        Contribution(plugin="beta", scope_types=(scope_type("thing", "thing-v1"),)),
    )
    assert registry.permissions["alpha.a"].scope_types == ("thing",)


# --- cycles --------------------------------------------------------------------------------


def test_two_cycle_of_implications_across_two_plugins() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.a", implies=("beta.b",)),)),
        Contribution(plugin="beta", permissions=(perm("beta.b", implies=("alpha.a",)),)),
        match=(
            r"implication cycle among permissions \(plugins 'alpha', 'beta'\): "
            r"alpha\.a -> beta\.b -> alpha\.a"
        ),
    )
    assert error.plugins == ("alpha", "beta")
    assert error.culprit == "beta"


def test_three_cycle_of_implications_across_two_plugins() -> None:
    error = fails(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.a", implies=("alpha.b",)),
                perm("alpha.b", implies=("beta.c",)),
            ),
        ),
        Contribution(plugin="beta", permissions=(perm("beta.c", implies=("alpha.a",)),)),
        match=(
            r"implication cycle among permissions \(plugins 'alpha', 'beta'\): "
            r"alpha\.a -> alpha\.b -> beta\.c -> alpha\.a"
        ),
    )
    assert error.plugins == ("alpha", "beta")
    assert error.culprit == "beta"


def test_cycle_names_only_its_members() -> None:
    """A permission leading into a cycle is not part of it."""
    fails(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.a", implies=("alpha.b",)),
                perm("alpha.b", implies=("alpha.c",)),
                perm("alpha.c", implies=("alpha.b",)),
            ),
        ),
        match=r"implication cycle among permissions \(plugin 'alpha'\): alpha\.b -> alpha\.c -> "
        r"alpha\.b",
    )


def test_self_implication() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.a", implies=("alpha.a",)),)),
        match=r"implication cycle among permissions \(plugin 'alpha'\): alpha\.a -> alpha\.a",
    )
    assert error.plugins == ("alpha",)
    assert error.item == "alpha.a"


def test_diamond_of_implications_is_not_a_cycle() -> None:
    registry = build(
        Contribution(
            plugin="alpha",
            permissions=(
                perm("alpha.top", implies=("alpha.left", "alpha.right")),
                perm("alpha.left", implies=("alpha.bottom",)),
                perm("alpha.right", implies=("alpha.bottom",)),
                perm("alpha.bottom"),
            ),
        )
    )
    assert registry.implied["alpha.top"] == {
        "alpha.top",
        "alpha.left",
        "alpha.right",
        "alpha.bottom",
    }


def test_role_inclusion_cycle() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("first", includes=("second",)),)),
        Contribution(plugin="beta", roles=(role("second", includes=("first",)),)),
        match=r"inclusion cycle among roles \(plugins 'alpha', 'beta'\): first -> second -> first",
    )
    assert error.plugins == ("alpha", "beta")
    assert error.culprit == "beta"


def test_role_including_itself() -> None:
    error = fails(
        Contribution(plugin="alpha", roles=(role("loop", includes=("loop",)),)),
        match=r"inclusion cycle among roles \(plugin 'alpha'\): loop -> loop",
    )
    assert error.plugins == ("alpha",)


# --- record-level validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    [
        "Courses.view",  # uppercase
        "courses.View",  # uppercase in the action
        "courses",  # no dot, no namespace
        "1courses.view",  # leading digit
        "courses.1view",  # leading digit after the dot
        "courses..view",  # empty part
        "courses.view.",  # trailing dot
        "courses.view-all",  # dash
    ],
)
def test_bad_permission_id_is_refused(bad_id: str) -> None:
    with pytest.raises(ValidationError, match=r"id\n  String should match pattern"):
        perm(bad_id)


@pytest.mark.parametrize("good_id", ["courses.view", "a.b.c", "ccx.view_2", "x1.y_z"])
def test_good_permission_id_is_accepted(good_id: str) -> None:
    assert perm(good_id).id == good_id


@pytest.mark.parametrize("bad_id", ["Course_admin", "course-admin", "1role", "course.admin", ""])
def test_bad_role_id_is_refused(bad_id: str) -> None:
    with pytest.raises(ValidationError, match=r"id\n  String should match pattern"):
        role(bad_id)


def test_empty_scope_types_is_refused_for_a_permission() -> None:
    with pytest.raises(ValidationError, match=r"scope_types\n  Tuple should have at least 1 item"):
        perm("alpha.a", scope_types=())


def test_empty_scope_types_is_refused_for_a_role() -> None:
    with pytest.raises(ValidationError, match=r"scope_types\n  Tuple should have at least 1 item"):
        role("alpha_role", scope_types=())


def test_repeated_implies_entry_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"implies lists 'alpha\.b' twice"):
        perm("alpha.a", implies=("alpha.b", "alpha.c", "alpha.b"))


def test_repeated_role_permission_entry_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"permissions lists 'alpha\.b' twice"):
        role("alpha_role", permissions=("alpha.b", "alpha.b"))


def test_repeated_alias_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"aliases lists 'staff' twice"):
        role("alpha_role", aliases=("staff", "staff"))


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"colour\n  Extra inputs are not permitted"):
        Permission(
            id="alpha.a",
            title="t",
            description="d",
            area="a",
            scope_types=("course",),
            colour="red",  # type: ignore[call-arg]
        )


def test_blank_title_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"title\n  String should have at least 1 character"):
        Permission(id="alpha.a", title="   ", description="d", area="a", scope_types=("course",))


def test_permission_is_frozen() -> None:
    p = perm("alpha.a")
    with pytest.raises(ValidationError, match="Instance is frozen"):
        p.id = "alpha.b"  # type: ignore[misc]
    assert p.id == "alpha.a"


def test_role_is_frozen() -> None:
    r = role("alpha_role")
    with pytest.raises(ValidationError, match="Instance is frozen"):
        r.grants_all = True  # type: ignore[misc]
    assert r.grants_all is False


def test_scope_type_is_frozen() -> None:
    st = scope_type("thing", "thing-v1")
    with pytest.raises(ValidationError, match="Instance is frozen"):
        st.namespace = "other"  # type: ignore[misc]
    assert st.namespace == "thing-v1"


# --- PermissionFactory ---------------------------------------------------------------------


def test_permission_factory_fills_the_shared_defaults_and_the_namespace() -> None:
    make = PermissionFactory(
        scope_types=("course",), namespace="notes", area="Notes", risks=frozenset({Risk.GRADES})
    )
    edit = make("edit_notes", "Edit notes", "Change them.", implies=("view_notes", "other.view"))
    assert edit == Permission(
        id="notes.edit_notes",
        title="Edit notes",
        description="Change them.",
        area="Notes",
        scope_types=("course",),
        implies=("notes.view_notes", "other.view"),
        risks=frozenset({Risk.GRADES}),
    )
    other = make("courses.view", "View", "See it.", "Elsewhere", scope_types=("org",), risks=())
    assert (other.id, other.area, other.scope_types, other.risks) == (
        "courses.view",
        "Elsewhere",
        ("org",),
        frozenset(),
    )


def test_permission_factory_without_a_namespace_or_an_area() -> None:
    make = PermissionFactory(scope_types=("course",))
    assert make("a.b", "T", "D", "Area").id == "a.b"
    with pytest.raises(ValidationError):
        make("plain", "T", "D", "Area")  # no namespace: not a dotted id
    with pytest.raises(TypeError, match="needs an area"):
        make("a.b", "T", "D")


# --- console pages -------------------------------------------------------------------------


def page(page_id: str, permission: str, scope: str | None = None) -> ConsolePage:
    return ConsolePage(
        id=page_id,
        title=f"Title of {page_id}",
        description=f"Description of {page_id}.",
        permission=permission,
        render=lambda viewer, rolecall: "text",
        scope=scope,
    )


def test_console_pages_are_in_the_registry_with_their_plugin() -> None:
    notes = page("notes", "alpha.a", scope="course-v1:MITx+6.002x+2026_T1")
    registry = build(
        Contribution(plugin="alpha", permissions=(perm("alpha.a"),), console_pages=(notes,))
    )
    assert registry.console_pages == {"notes": notes}
    assert registry.origin["console_page:notes"] == "alpha"
    assert registry.contributed_by("alpha")["console_pages"] == ["notes"]


def test_a_console_page_needing_an_unknown_permission_is_refused() -> None:
    error = fails(
        Contribution(plugin="alpha", permissions=(perm("alpha.a"),)),
        Contribution(plugin="beta", console_pages=(page("beta_page", "alpha.b"),)),
        match=r"console page 'beta_page' \(plugin 'beta'\) needs unknown permission 'alpha.b'",
    )
    assert error.culprit == "beta"


def test_a_console_page_at_a_scope_that_does_not_parse_is_refused() -> None:
    error = fails(
        Contribution(
            plugin="alpha",
            permissions=(perm("alpha.a"),),
            console_pages=(page("alpha_page", "alpha.a", scope="course-v1:MITx"),),
        ),
        match=r"console page 'alpha_page' \(plugin 'alpha'\) is shown at scope "
        r"'course-v1:MITx', which does not parse: malformed course key .*",
    )
    assert error.culprit == "alpha"


def test_two_plugins_adding_the_same_console_page_are_both_named() -> None:
    error = fails(
        Contribution(
            plugin="alpha", permissions=(perm("alpha.a"),), console_pages=(page("p", "alpha.a"),)
        ),
        Contribution(plugin="beta", console_pages=(page("p", "alpha.a"),)),
        match=r"duplicate console page 'p': registered by plugins 'alpha' and 'beta'",
    )
    assert error.culprit == "beta"
