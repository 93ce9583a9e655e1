"""The ``platform`` plugin: the scope types every other plugin hangs from.

- ``platform``: the single key ``platform``; the root.
- ``org``: ``org:MITx``; parent ``platform``.
- ``course``: ``course-v1:MITx+6.002x+2026_T1``; parent its org.
- ``library``: ``lib:MITx:physics``; parent its org.
"""

from __future__ import annotations

from rolecall.core import ParsedKey, ScopeType, hookimpl, split_key


def parse_platform(key: str) -> ParsedKey:
    if key != "platform":
        raise ValueError("the platform scope has the single key 'platform'")
    return ParsedKey(fields={}, parent=None)


def parse_org(key: str) -> ParsedKey:
    fields = split_key(key, "org:", "", ("org",))
    return ParsedKey(fields=fields, parent="platform")


def parse_course(key: str) -> ParsedKey:
    fields = split_key(key, "course-v1:", "+", ("org", "course", "run"))
    return ParsedKey(fields=fields, parent=f"org:{fields['org']}")


def parse_library(key: str) -> ParsedKey:
    fields = split_key(key, "lib:", ":", ("org", "library"))
    return ParsedKey(fields=fields, parent=f"org:{fields['org']}")


@hookimpl
def register_scope_types() -> list[ScopeType]:
    return [
        ScopeType(
            id="platform",
            title="Platform",
            description="The whole installation: every org, course and library.",
            namespace="platform",
            pattern="platform",
            example="platform",
            parse=parse_platform,
        ),
        ScopeType(
            id="org",
            title="Organization",
            description="An organization and all its current and future courses and libraries.",
            namespace="org",
            pattern="org:ORG",
            example="org:MITx",
            parse=parse_org,
        ),
        ScopeType(
            id="course",
            title="Course",
            description="One course run.",
            namespace="course-v1",
            pattern="course-v1:ORG+COURSE+RUN",
            example="course-v1:MITx+6.002x+2026_T1",
            parse=parse_course,
        ),
        ScopeType(
            id="library",
            title="Library",
            description="One content library.",
            namespace="lib",
            pattern="lib:ORG:LIBRARY",
            example="lib:MITx:physics",
            parse=parse_library,
        ),
    ]
