"""The web app in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser),
axe-core's checks, and screenshots kept as the run's artefacts.

Each page is also checked for what a person would not see but should never happen: console errors,
uncaught exceptions, Content-Security-Policy violations, a page wider than its screen.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    async_playwright,
)

CHROMIUM: Final = os.environ.get("AIWF_CHROMIUM", "/usr/bin/chromium")
FLAGS: Final = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
SCREENS: Final = Path(__file__).resolve().parents[2] / ".artifacts" / "browser"
DESKTOP: Final[dict[str, Any]] = {"viewport": {"width": 1366, "height": 900}}
MOBILE: Final[dict[str, Any]] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
_WATCH: Final = """
window.__csp = [];
document.addEventListener(
  "securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI)
);
"""


def chromium_path() -> str:
    """Fails, does not skip, without it: a browser test that silently skips proves nothing."""
    if not Path(CHROMIUM).is_file():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: install Debian's (`apt install chromium`) or set AIWF_CHROMIUM"
        )
    return CHROMIUM


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=list(FLAGS))
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Session:
    """One person's browser tab, and what went wrong in it that no assertion looked at."""

    context: BrowserContext
    page: Page
    base: str
    troubles: list[str] = field(default_factory=list)

    async def open(self, fragment: str, ready: str, timeout_ms: int = 15_000) -> None:
        await self.page.goto(f"{self.base}/{fragment}")
        await self.page.wait_for_selector(ready, timeout=timeout_ms)

    async def check(self, name: str) -> list[str]:
        """Screenshot, axe-core (serious and critical only), CSP violations, horizontal overflow."""
        page = self.page
        await page.wait_for_timeout(200)
        SCREENS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
        found = [f"{name}: {v}" for v in await page.evaluate("window.__csp || []")]
        wider = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if wider > 0:
            found.append(f"{name}: {wider}px wider than the screen")
        results = await Axe().run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = " | ".join(" ".join(n["target"]) for n in violation["nodes"][:3])
                found.append(f"{name}: axe {violation['impact']} {violation['id']}: {targets}")
        return found


async def session(
    browser: Browser, base: str, key: str | None, *, mobile: bool = False, lang: str = "en"
) -> Session:
    """A new tab; with `key`, already signed in (the app keeps the key in sessionStorage only)."""
    options = MOBILE if mobile else DESKTOP
    context = await browser.new_context(**options, locale="fr-FR" if lang == "fr" else "en-GB")
    await context.add_init_script(_WATCH)
    if key is not None:
        await context.add_init_script(f"sessionStorage.setItem('aiwf.apiKey', {key!r});")
    page = await context.new_page()
    opened = Session(context=context, page=page, base=base)
    page.on("pageerror", lambda error: opened.troubles.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            opened.troubles.append(f"console: {message.text}")
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            opened.troubles.append(f"{response.status} {response.url}") if response.status >= 500 else None
        ),
    )
    return opened


def clear_screens() -> None:
    """The last run's screenshots are the ones kept."""
    shutil.rmtree(SCREENS, ignore_errors=True)
