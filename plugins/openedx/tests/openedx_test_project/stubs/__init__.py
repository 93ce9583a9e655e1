"""Stand-ins for the platform's models and signals the plugin reads.

The retirement signals live at ``openedx.core.djangoapps.user_api.accounts.signals`` in
edx-platform, which is not installed here: :mod:`.retirement_signals` is put at that name,
before any app is ready, unless a real ``openedx`` package is importable."""

from __future__ import annotations

import importlib.util
import sys
import types

PLATFORM_SIGNALS = "openedx.core.djangoapps.user_api.accounts.signals"

if importlib.util.find_spec("openedx") is None and PLATFORM_SIGNALS not in sys.modules:
    from . import retirement_signals

    parts = PLATFORM_SIGNALS.split(".")
    for depth in range(1, len(parts)):
        name = ".".join(parts[:depth])
        package = sys.modules.setdefault(name, types.ModuleType(name))
        package.__path__ = []  # a package: its submodules are the ones put here
    sys.modules[PLATFORM_SIGNALS] = retirement_signals
    for depth in range(1, len(parts)):
        setattr(
            sys.modules[".".join(parts[:depth])],
            parts[depth],
            sys.modules[".".join(parts[: depth + 1])],
        )
