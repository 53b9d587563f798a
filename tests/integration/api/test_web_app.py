"""The web app in Debian's Chromium against the running stack (the main job on the offline planner): a
person signs in, chats in French and Arabic and watches the agents answer live, moves the AgentState's
time slider, approves the workflow, opens its SBOM; a member is denied the audit page; a phone-sized
screen works. Every page is checked by axe-core (no serious or critical violation), for CSP violations,
console errors and horizontal overflow; the screenshots of the last run are kept in .artifacts/browser/."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser

from api.deps import Limits
from api.webapp import APP_DIR
from infra.crypto.keyring import Keyring
from infra.event_store import RedisEventStore
from tests.integration.api.conftest import Stack, running_stack
from tests.integration.api.test_main_job_over_http import until_listed
from tests.integration.managers.conftest import deps_for, offline_gateway
from tests.support.browser import Session, chromium, clear_screens, session

pytestmark = pytest.mark.browser

FRENCH = (
    "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack, et préviens le livreur "
    "Yalidine pour les commandes payées"
)
ARABIC = "كل صباح، أرسل لي مجموع طلبات Shopify ليوم أمس على Slack"
BUDGET_GZIP_BYTES = 300 * 1024
_ARABIC_LETTERS = re.compile("[\u0600-\u06ff]")
_cleared = False


@pytest.fixture
async def web_stack(
    standalone_store: RedisEventStore,
    pg_pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    keyring: Keyring,
) -> AsyncIterator[Stack]:
    """The stack as `aiwf run` serves it: the main job on the offline planner, and a keyring that signs."""
    gateway = offline_gateway()
    managers = deps_for(standalone_store, gateway)
    limits = Limits(read_wait_s=5.0)
    async with running_stack(
        standalone_store, pg_pool, database_url, redis_url, limits, managers=managers, keyring=keyring
    ) as stack:
        yield stack
    await gateway.aclose()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    global _cleared  # noqa: PLW0603 - the run's first browser test clears the last run's screenshots
    if not _cleared:
        clear_screens()
        _cleared = True
    async with chromium() as opened:
        yield opened


async def conversation_with_workflow(stack: Stack) -> tuple[str, str]:
    """A conversation whose French message the agents turned into a validated workflow (over the API)."""
    async with stack.client("acme-admin") as http:
        cid = (await http.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"]
        await http.post(f"/v1/conversations/{cid}/messages", json={"text": FRENCH})
        flows = await until_listed(http, "/v1/workflows", bool, conversation_id=cid)
    assert await stack.runtime.wait_caught_up(timeout_s=20)
    return cid, str(flows[0]["workflow_id"])


async def checked(tab: Session, name: str) -> None:
    """Nothing went wrong on the page that a person would not see."""
    assert await tab.check(name) == []
    assert tab.troubles == []


async def test_a_person_signs_in_with_a_key_and_a_wrong_key_is_told_so(
    web_stack: Stack, browser: Browser
) -> None:
    tab = await session(browser, web_stack.url, None)
    await tab.open("", "#api-key")
    await checked(tab, "desktop-sign-in")

    await tab.page.fill("#api-key", "aiwf_not_a_key")
    await tab.page.click("button[type=submit]")
    await tab.page.wait_for_selector(".problem")
    await checked(tab, "desktop-sign-in-refused")
    await tab.page.fill("#api-key", web_stack.keys["acme-member"])
    await tab.page.click("button[type=submit]")
    await tab.page.wait_for_selector("nav.main-nav")

    assert "acme" in await tab.page.inner_text(".who")
    assert await tab.page.evaluate("sessionStorage.getItem('aiwf.apiKey')") == web_stack.keys["acme-member"]
    assert await tab.page.evaluate("localStorage.length") == 0  # the key is kept for the tab only
    await checked(tab, "desktop-signed-in")


async def test_a_french_message_brings_the_reply_the_agents_and_the_workflow_live(
    web_stack: Stack, browser: Browser
) -> None:
    tab = await session(browser, web_stack.url, web_stack.keys["acme-member"])
    await tab.open("#/conversations", "#new-title")
    await tab.page.fill("#new-title", "Ventes et livraisons")
    await tab.page.click("form button[type=submit] >> text=/Start|Commencer/")
    await tab.page.wait_for_selector(".live-status >> text=/Live|En direct/")

    await tab.page.fill("#composer-text", FRENCH)
    await tab.page.click(".composer button[type=submit]")
    await tab.page.wait_for_selector(".message-assistant", timeout=30_000)
    await tab.page.wait_for_selector(".workflow-card a", timeout=30_000)

    reply = await tab.page.inner_text(".message-assistant .message-text")
    agents = await tab.page.inner_text("aside, .agents, .side")
    assert "workflow" in reply
    assert "Sales" in agents or "Ventes" in agents
    assert await tab.page.input_value("#composer-text") == ""  # sent, so cleared
    await checked(tab, "desktop-chat-french-live")


async def test_an_arabic_message_is_laid_out_right_to_left_and_answered_in_arabic(
    web_stack: Stack, browser: Browser
) -> None:
    cid, _ = await conversation_with_workflow(web_stack)
    tab = await session(browser, web_stack.url, web_stack.keys["acme-member"])
    await tab.open(f"#/conversations/{cid}", ".live-status >> text=/Live|En direct/")

    await tab.page.fill("#composer-text", ARABIC)
    await tab.page.click(".composer button[type=submit]")
    await tab.page.locator(".message-assistant").nth(1).wait_for(timeout=30_000)

    said = tab.page.locator(".message-user .message-text", has_text=ARABIC).last
    assert await said.evaluate("el => getComputedStyle(el).direction") == "rtl"
    answer = await tab.page.locator(".message-assistant .message-text").last.inner_text()
    assert _ARABIC_LETTERS.search(answer), answer
    await checked(tab, "desktop-chat-arabic-rtl")


async def test_the_time_slider_shows_the_agent_state_as_it_was_after_an_earlier_event(
    web_stack: Stack, browser: Browser
) -> None:
    cid, _ = await conversation_with_workflow(web_stack)
    tab = await session(browser, web_stack.url, web_stack.keys["acme-member"])
    await tab.open(f"#/conversations/{cid}/state", "#version-slider")
    await tab.page.wait_for_selector(".state-view")
    latest = await tab.page.inner_text(".state-view")
    newest = int(await tab.page.input_value("#version-slider"))

    await tab.page.focus("#version-slider")
    for _ in range(newest - 2):
        await tab.page.keyboard.press("ArrowLeft")
    await tab.page.wait_for_url(re.compile(r"version=2(&|$)"))
    await tab.page.wait_for_timeout(500)
    earlier = await tab.page.inner_text(".state-view")

    assert earlier != latest
    assert "Logistics" not in earlier  # nothing was delegated yet after the message
    await checked(tab, "desktop-agent-state-slider")


async def test_a_person_approves_the_workflow_and_reads_its_sbom(web_stack: Stack, browser: Browser) -> None:
    _, workflow_id = await conversation_with_workflow(web_stack)
    tab = await session(browser, web_stack.url, web_stack.keys["acme-member"])
    await tab.open(f"#/workflows/{workflow_id}", "svg.graph")
    assert await tab.page.locator("svg.graph .node").count() >= 3
    await checked(tab, "desktop-workflow")

    await tab.page.locator("button", has_text=re.compile("Approve revision|Approuver la révision")).click()
    await tab.page.wait_for_selector(".page-head .badge >> text=/approved|approuvé/", timeout=20_000)
    await checked(tab, "desktop-workflow-approved")
    await tab.open(f"#/workflows/{workflow_id}/sbom", "#sbom-models")
    async with tab.page.expect_download() as waiting:
        await tab.page.click("a[download]")
    downloaded = await asyncio.to_thread(Path(await (await waiting.value).path()).read_bytes)
    async with web_stack.client("acme-member") as http:
        served = (await http.get(f"/v1/workflows/{workflow_id}/sbom")).content
        status = (await http.get(f"/v1/workflows/{workflow_id}")).json()["status"]

    assert status == "approved"
    assert downloaded == served
    assert await tab.page.locator("table").count() >= 3  # models, prompt templates, nodes, services…
    await checked(tab, "desktop-sbom")


async def test_a_member_is_denied_the_audit_page_and_an_auditor_may_not_write(
    web_stack: Stack, browser: Browser
) -> None:
    cid, _ = await conversation_with_workflow(web_stack)
    member = await session(browser, web_stack.url, web_stack.keys["acme-member"])
    await member.open("#/events", "h1")
    links = await member.page.locator("nav.main-nav a").all_inner_texts()
    await checked(member, "desktop-member-denied-audit")
    auditor = await session(browser, web_stack.url, web_stack.keys["acme-auditor"])
    await auditor.open(f"#/conversations/{cid}", ".messages")
    auditor_links = await auditor.page.locator("nav.main-nav a").all_inner_texts()

    assert await member.page.locator("#denied-title").count() == 1
    assert not any("audit" in link.lower() for link in links)
    assert any("audit" in link.lower() for link in auditor_links)
    assert await auditor.page.locator("#composer-text").count() == 0
    await checked(auditor, "desktop-auditor-read-only")


async def test_the_chat_works_on_a_phone_sized_screen(web_stack: Stack, browser: Browser) -> None:
    cid, workflow_id = await conversation_with_workflow(web_stack)
    tab = await session(browser, web_stack.url, web_stack.keys["acme-member"], mobile=True)
    await tab.open(f"#/conversations/{cid}", ".live-status >> text=/Live|En direct/")
    await checked(tab, "mobile-chat")

    await tab.page.fill("#composer-text", "Et envoie aussi un e-mail à la comptable")
    await tab.page.click(".composer button[type=submit]")
    await tab.page.locator(".message-assistant").nth(1).wait_for(timeout=30_000)
    await checked(tab, "mobile-chat-follow-up")
    await tab.open(f"#/workflows/{workflow_id}", "svg.graph")
    await checked(tab, "mobile-workflow")


async def test_the_interface_speaks_french_to_a_french_browser(web_stack: Stack, browser: Browser) -> None:
    tab = await session(browser, web_stack.url, web_stack.keys["acme-member"], lang="fr")
    await tab.open("#/conversations", "#new-title")

    assert "Conversations" in await tab.page.inner_text("h1")
    assert await tab.page.locator("button", has_text="Commencer").count() >= 1
    assert await tab.page.get_attribute("html", "lang") == "fr"
    await checked(tab, "desktop-conversations-fr")


async def test_the_app_is_served_at_the_root_with_its_assets_and_a_strict_policy(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as http:
        page = await http.get("/")
        scripts = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
        assets = [await http.get(path) for path in scripts]

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"  # the charset said once
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert scripts
    assert all(asset.status_code == 200 for asset in assets)
    assert all("immutable" in asset.headers["cache-control"] for asset in assets)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)  # nothing from elsewhere


def test_the_app_ships_at_most_300_kb_of_gzipped_javascript() -> None:
    scripts = list((APP_DIR / "assets").glob("*.js"))
    size = sum(len(gzip.compress(path.read_bytes(), 9)) for path in scripts)

    assert scripts
    assert size <= BUDGET_GZIP_BYTES, f"{size} bytes of gzipped JavaScript"
