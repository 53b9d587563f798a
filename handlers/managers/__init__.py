"""The process managers of the main job: orchestrator, specialists, designer (docs/adr/0018), deployer
(docs/adr/0019)."""

from __future__ import annotations

from handlers.managers import deployer, designer, orchestrator, specialists
from handlers.managers.runner import Handler, ManagerProcessor
from handlers.managers.steps import ManagerDeps

__all__ = ["MANAGERS", "ManagerDeps", "ManagerProcessor", "processors"]

MANAGERS: tuple[tuple[str, object, Handler], ...] = (
    ("orchestrator", orchestrator.handles, orchestrator.on_user_message),
    ("specialists", specialists.handles, specialists.on_delegated),
    ("designer", designer.handles, designer.on_event),
    ("deployer", deployer.handles, deployer.on_event),
)


def processors(deps: ManagerDeps) -> list[ManagerProcessor]:
    return [ManagerProcessor(name, deps, handles, handle) for name, handles, handle in MANAGERS]  # type: ignore[arg-type]
