"""Prompt templates: one TOML file per agent role, pinned by a lock file of sha256 per (id, version).

Every `InferenceDecided` event names the template id, version and sha256 it used, so an audit can
tell which words produced an answer. That only means something if a (id, version) pair always has
the same text: `load_templates` refuses a file whose text no longer matches the hash the lock holds
for its version. To change a prompt, bump `version` in its file, then run

    python -c "from inference.templates import update_lock; update_lock()"

which adds the new (id, version) to `templates.lock.json` (and never rewrites an existing entry).
Commit the TOML and the lock together; old entries stay, as the history of every released prompt.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Final

import msgspec

from domain.types import AgentRole

PROMPTS_DIR: Final = Path(__file__).with_name("prompts")
LOCK_NAME: Final = "templates.lock.json"


class TemplateError(ValueError):
    """A template file is malformed, unlocked, or changed without a new version."""


class _TemplateFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]*$")]
    version: Annotated[int, msgspec.Meta(ge=1)]
    role: AgentRole
    text: Annotated[str, msgspec.Meta(min_length=1)]


class PromptTemplate(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    version: int
    role: AgentRole
    text: str
    sha256: str  # of the UTF-8 text, exactly as sent as the system prompt


class LockEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    version: int
    sha256: str


class TemplateLock(msgspec.Struct, frozen=True, kw_only=True):
    templates: tuple[LockEntry, ...] = ()

    def sha256_of(self, template_id: str, version: int) -> str | None:
        return next((e.sha256 for e in self.templates if (e.id, e.version) == (template_id, version)), None)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_template(path: Path) -> PromptTemplate:
    """One TOML file, parsed and hashed; not yet checked against the lock."""
    try:
        data = msgspec.toml.decode(path.read_bytes(), type=_TemplateFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise TemplateError(f"{path}: {err}") from err
    text = data.text.strip() + "\n"  # TOML multi-line strings start with a newline: not part of it
    return PromptTemplate(
        id=data.id, version=data.version, role=data.role, text=text, sha256=text_sha256(text)
    )


def read_lock(directory: Path = PROMPTS_DIR) -> TemplateLock:
    path = directory / LOCK_NAME
    if not path.exists():
        return TemplateLock()
    try:
        return msgspec.json.decode(path.read_bytes(), type=TemplateLock)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise TemplateError(f"{path}: {err}") from err


def load_templates(directory: Path = PROMPTS_DIR) -> dict[AgentRole, PromptTemplate]:
    """Every role's template, each verified against the lock; raises TemplateError naming the file."""
    lock = read_lock(directory)
    templates: dict[AgentRole, PromptTemplate] = {}
    for path, template in _read_all(directory):
        locked = lock.sha256_of(template.id, template.version)
        if locked is None:
            raise TemplateError(
                f"{path}: {template.id} version {template.version} is not in {LOCK_NAME}; "
                "run inference.templates.update_lock() after reviewing the new text"
            )
        if locked != template.sha256:
            raise TemplateError(
                f"{path}: the text of {template.id} changed but its version is still {template.version} "
                f"(locked sha256 {locked[:12]}…, now {template.sha256[:12]}…); bump `version` and run "
                "inference.templates.update_lock()"
            )
        templates[template.role] = template
    return templates


def update_lock(directory: Path = PROMPTS_DIR) -> TemplateLock:
    """Add every template's current (id, version, sha256) to the lock and write it.

    The explicit step a prompt author takes after bumping a version. An entry already in the lock
    is never changed: a different text under a locked version is still refused.
    """
    lock = read_lock(directory)
    entries = list(lock.templates)
    for path, template in _read_all(directory):
        locked = lock.sha256_of(template.id, template.version)
        if locked is None:
            entries.append(LockEntry(id=template.id, version=template.version, sha256=template.sha256))
        elif locked != template.sha256:
            raise TemplateError(
                f"{path}: {template.id} version {template.version} is locked with another text; "
                "bump `version` instead of editing a released prompt"
            )
    updated = TemplateLock(templates=tuple(sorted(entries, key=lambda e: (e.id, e.version))))
    encoded = msgspec.json.format(msgspec.json.encode(updated), indent=2) + b"\n"
    (directory / LOCK_NAME).write_bytes(encoded)
    return updated


def _read_all(directory: Path) -> list[tuple[Path, PromptTemplate]]:
    """Every *.toml of the directory; exactly one per role, or TemplateError."""
    found = [(path, read_template(path)) for path in sorted(directory.glob("*.toml"))]
    seen: dict[AgentRole, Path] = {}
    for path, template in found:
        if template.role in seen:
            raise TemplateError(f"{path}: a second template for role {template.role} ({seen[template.role]})")
        seen[template.role] = path
    missing = sorted(str(role) for role in set(AgentRole) - set(seen))
    if missing:
        raise TemplateError(f"{directory}: no template for roles {missing}")
    return found
