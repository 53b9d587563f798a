"""Prompt templates: one per role, pinned by the lock; a changed text needs a new version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domain.types import AgentRole
from inference.templates import (
    LOCK_NAME,
    PROMPTS_DIR,
    TemplateError,
    load_templates,
    read_lock,
    text_sha256,
    update_lock,
)


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    """A copy of the packaged prompts, free to edit."""
    copy = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_packaged_templates_load_one_per_role_and_match_the_lock() -> None:
    templates = load_templates()

    assert set(templates) == set(AgentRole)
    for role, template in templates.items():
        assert template.role == role
        assert template.version >= 1
        assert template.sha256 == text_sha256(template.text)
        assert read_lock().sha256_of(template.id, template.version) == template.sha256


def test_every_prompt_speaks_of_the_algerian_context() -> None:
    for template in load_templates().values():
        text = template.text
        assert "Algeria" in text or "Algerian" in text
        assert "Darija" in text or template.role != AgentRole.ORCHESTRATOR


def test_the_designer_prompt_asks_for_n8n_workflow_json() -> None:
    text = load_templates()[AgentRole.DESIGNER].text

    for word in ("name", "nodes", "connections", "settings", "executionOrder", "typeVersion"):
        assert word in text


def test_a_changed_text_under_the_same_version_is_refused_naming_the_file(prompts: Path) -> None:
    _edit(prompts / "sales.toml", "You are the Sales Expert", "You are the Sales Guru")

    with pytest.raises(TemplateError, match=r"sales\.toml.*changed but its version is still 2"):
        load_templates(prompts)


def test_update_lock_refuses_to_relock_a_released_version(prompts: Path) -> None:
    _edit(prompts / "sales.toml", "You are the Sales Expert", "You are the Sales Guru")

    with pytest.raises(TemplateError, match=r"sales\.toml.*bump `version`"):
        update_lock(prompts)


def test_a_bumped_version_is_refused_until_the_lock_is_updated_then_accepted(prompts: Path) -> None:
    _edit(prompts / "sales.toml", "You are the Sales Expert", "You are the Sales Guru")
    _edit(prompts / "sales.toml", "version = 2", "version = 3")

    with pytest.raises(TemplateError, match=r"sales\.toml.*not in templates\.lock\.json"):
        load_templates(prompts)
    lock = update_lock(prompts)
    templates = load_templates(prompts)

    sales = templates[AgentRole.SALES]
    assert (sales.version, "Sales Guru" in sales.text) == (3, True)
    assert lock.sha256_of("aiwf.sales", 2) == load_templates()[AgentRole.SALES].sha256  # history kept
    assert lock.sha256_of("aiwf.sales", 3) == sales.sha256


def test_update_lock_writes_nothing_new_when_nothing_changed(prompts: Path) -> None:
    before = (prompts / LOCK_NAME).read_bytes()

    update_lock(prompts)

    assert (prompts / LOCK_NAME).read_bytes() == before


def test_a_missing_role_is_refused(prompts: Path) -> None:
    (prompts / "finance.toml").unlink()

    with pytest.raises(TemplateError, match=r"no template for roles \['finance'\]"):
        load_templates(prompts)


def test_a_second_template_for_a_role_is_refused(prompts: Path) -> None:
    shutil.copy(prompts / "sales.toml", prompts / "sales_copy.toml")

    with pytest.raises(TemplateError, match="a second template for role sales"):
        load_templates(prompts)


def test_a_malformed_file_is_refused_naming_it(prompts: Path) -> None:
    _edit(prompts / "logistics.toml", 'role = "logistics"', 'role = "courier"')

    with pytest.raises(TemplateError, match=r"logistics\.toml"):
        load_templates(prompts)
