from __future__ import annotations

import json
import logging

from infra.observability import JsonFormatter, correlation_id, request_id


def test_a_log_line_is_one_json_object_with_the_requests_ids() -> None:
    request_id.set("r-1")
    correlation_id.set("c-1")
    record = logging.LogRecord("aiwf.http", logging.INFO, __file__, 1, "request %s", ("done",), None)
    record.fields = {"status": 202}

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "request done"
    assert (line["request_id"], line["correlation_id"], line["status"]) == ("r-1", "c-1", 202)
    assert line["time"].endswith("Z")
    assert line["pid"] == record.process  # which of `aiwf run`'s processes wrote it
