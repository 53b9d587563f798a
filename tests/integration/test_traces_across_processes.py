"""`aiwf run` with an OTLP endpoint: one user message is one trace across the API process, the agents'
process and the projectors' process, exported by each to the collector the `OTEL_*` variables name; a
message whose caller sampled it out is traced in none of them (docs/adr/0041: production samples)."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from pathlib import Path

import httpx

from tests.integration.managers.test_main_job import DEMO
from tests.integration.test_run_processes import _env, platform
from tests.support.cluster import free_port
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.postgres import fresh_database

SERVICES = {"aiwf-api", "aiwf-worker-managers", "aiwf-worker-projectors"}


async def test_one_message_is_one_trace_across_the_processes_and_a_sampled_out_one_is_in_none(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    async with fresh_database(database_url) as database:
        with OtlpReceiver() as collector:
            env = _env(
                tmp_path,
                free_port(),
                redis_url,
                database,
                AIWF_API_PROCESSES="1",
                AIWF_WORKER_PROCESSES="1",
                OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
                OTEL_BSP_SCHEDULE_DELAY="100",
            )
            trace_id, sampled_out = secrets.token_hex(16), secrets.token_hex(16)
            spans, unsampled = await asyncio.to_thread(
                _two_messages, tmp_path, env, trace_id, sampled_out, collector
            )

    by_id = {span.span_id: span for span in spans}
    assert {span.service for span in spans} == SERVICES
    [root] = [span for span in spans if span.parent_id not in by_id]
    assert root.service == "aiwf-api"
    assert root.name == "POST /v1/conversations/{conversation_id}/messages"
    assert root.parent_id == "00f067aa0ba902b7"  # the caller's span
    orchestrator = next(
        s for s in spans if s.name == "orchestrator aiwf.conversation.user_message_received.v1"
    )
    assert by_id[orchestrator.parent_id].service == "aiwf-api"  # across processes, through the event
    assert any(s.service == "aiwf-worker-projectors" and s.name.startswith("project ") for s in spans)
    chat = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert chat
    assert all(s.service == "aiwf-worker-managers" for s in chat)
    assert unsampled == []  # its workflow was validated, and no process recorded a span of it


def _two_messages(
    tmp_path: Path, env: dict[str, str], trace_id: str, sampled_out: str, collector: OtlpReceiver
) -> tuple[list[ReceivedSpan], list[ReceivedSpan]]:
    """The spans of a message its caller sampled, and of one its caller sampled out (flags 00), each in
    a conversation of its own, once both were folded."""
    port = int(env["AIWF_PORT"])
    with platform(env) as run:
        key = (tmp_path / "dev-api-key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as http:
            quiet = http.post("/v1/conversations", json={"title": "Hors trace"}).json()["conversation_id"]
            unsampled = f"00-{sampled_out}-00f067aa0ba902b7-00"
            sent = http.post(
                f"/v1/conversations/{quiet}/messages", json={"text": DEMO}, headers={"traceparent": unsampled}
            )
            assert sent.status_code == 202
            cid = http.post("/v1/conversations", json={"title": "Ventes"}).json()["conversation_id"]
            traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
            sent = http.post(
                f"/v1/conversations/{cid}/messages", json={"text": DEMO}, headers={"traceparent": traceparent}
            )
            assert sent.status_code == 202
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                spans = collector.of_trace(trace_id)
                done = {s.service for s in spans} == SERVICES and any(
                    s.name == "infer designer" for s in spans
                )
                listed = http.get("/v1/workflows", params={"conversation_id": quiet}).json()["items"]
                if done and [w["status"] for w in listed] == ["validated"]:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"within 60 s: {len(spans)} spans; the other's workflows {listed}")
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    # The last batches too: each child flushes as it stops.
    return collector.of_trace(trace_id), collector.of_trace(sampled_out)
