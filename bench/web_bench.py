"""The web app's chat page, in Debian's Chromium against a local platform (issue 13's budget: interactive
in under 1 s).

    python -m bench.web_bench [--loads N]

Embedded Valkey and PostgreSQL, `aiwf api` and `aiwf worker` in their own processes, one conversation
played through the API (the README's message, answered by the offline planner). Then the chat page is
opened N times in a fresh browser context (empty cache, as a first visit) and N times again in one
context (cached assets, as a returning visit). "Interactive" is the app's own mark `aiwf:chat-ready`:
the conversation and its messages are shown and the composer takes input. The baseline, measured on
the same loads, is the page itself — `DOMContentLoaded` of the app's HTML and script, before any API
call — so the ratio says what reading the conversation adds. The gzipped JavaScript is counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import statistics
import tempfile
from pathlib import Path

import asyncpg
import httpx
from playwright.async_api import Browser, BrowserContext

from api.webapp import APP_DIR
from bench.main_job_bench import TEXT, Platform, _until_serving, free_port, remove_embedded_postgres
from bench.report import Row, render, verdict
from infra.api_keys import create_key
from infra.embedded import start_postgres, start_valkey
from tests.support.browser import DESKTOP, chromium

GOAL_MS = 1000.0
_TIMINGS = """() => [
  performance.getEntriesByName("aiwf:chat-ready")[0].startTime,
  performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
]"""


async def conversation(base: str, key: str) -> str:
    """The README's message, answered: the page then has a reply, agents and a workflow to show."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
        cid = str((await http.post("/v1/conversations", json={"title": "Ventes"})).json()["conversation_id"])
        await http.post(f"/v1/conversations/{cid}/messages", json={"text": TEXT})
        for _ in range(200):
            items = (await http.get(f"/v1/conversations/{cid}/messages")).json().get("items", [])
            if any(m["role"] == "assistant" for m in items):
                return cid
            await asyncio.sleep(0.1)
    raise RuntimeError("the conversation got no reply")


async def load(context: BrowserContext, url: str) -> tuple[float, float]:
    """(interactive, page loaded) in ms since navigation started."""
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto("about:blank")
    await page.goto(url)
    await page.wait_for_selector("#composer-text:not([disabled])", timeout=10_000)
    await page.wait_for_function(
        '() => performance.getEntriesByName("aiwf:chat-ready").length > 0', timeout=10_000
    )
    ready, loaded = await page.evaluate(_TIMINGS)
    return float(ready), float(loaded)


async def visits(browser: Browser, url: str, key: str, loads: int) -> dict[str, list[tuple[float, float]]]:
    signed_in = f"sessionStorage.setItem('aiwf.apiKey', {key!r});"
    first: list[tuple[float, float]] = []
    for _ in range(loads):
        context = await browser.new_context(**DESKTOP, bypass_csp=True)  # the mark is read by evaluation
        await context.add_init_script(signed_in)
        first.append(await load(context, url))
        await context.close()
    context = await browser.new_context(**DESKTOP, bypass_csp=True)
    await context.add_init_script(signed_in)
    await load(context, url)  # fills the cache
    returning = [await load(context, url) for _ in range(loads)]
    await context.close()
    return {"first visit (empty cache)": first, "returning visit (cached assets)": returning}


def rows(measured: dict[str, list[tuple[float, float]]]) -> list[Row]:
    out = []
    for name, samples in measured.items():
        ready = statistics.median(s[0] for s in samples)
        loaded = statistics.median(s[1] for s in samples)
        worst = max(s[0] for s in samples)
        out.append(
            Row(
                measure=f"chat page interactive, {name}, p50 (max {worst:.0f} ms)",
                result=f"{ready:.0f} ms",
                baseline=f"{loaded:.0f} ms page loaded",
                ratio=ready / loaded if loaded else 0.0,
                goal=f"< {GOAL_MS:.0f} ms",
                verdict=verdict(worst < GOAL_MS),
            )
        )
    return out


async def main(loads: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="aiwf-web-bench-"))
    valkey = start_valkey(home)
    database_url = start_postgres(home)
    port = free_port()
    env = {**os.environ, "REDIS_URL": valkey.url, "DATABASE_URL": database_url, "AIWF_DATA_DIR": str(home)}
    env |= {"AIWF_LOG_LEVEL": "WARNING"}
    platform = Platform(home=home, port=port, env=env)
    try:
        platform.start("api", "api", "--port", str(port))
        await _until_serving(port)
        platform.start("worker", "worker")
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        key, _ = await create_key(pool, "bench", "member")
        await pool.close()
        base = f"http://127.0.0.1:{port}"
        cid = await conversation(base, key)
        async with chromium() as browser:
            measured = await visits(browser, f"{base}/#/conversations/{cid}", key, loads)
    finally:
        platform.stop()
        valkey.stop()
        await asyncio.to_thread(remove_embedded_postgres, home)
    scripts = sorted((APP_DIR / "assets").glob("*.js"))
    gzipped = sum(len(gzip.compress(path.read_bytes(), 9)) for path in scripts)
    print(render(rows(measured)))
    print(f"JavaScript: {gzipped / 1024:.1f} kB gzipped in {len(scripts)} file(s) (budget 300 kB)")
    print(
        f"({loads} loads each; Chromium at /usr/bin/chromium, API and worker on loopback, embedded servers)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=10)
    asyncio.run(main(parser.parse_args().loads))
