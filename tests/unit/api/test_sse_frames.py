"""A frame the hub encodes once is byte for byte what Litestar would have encoded for each subscriber."""

from __future__ import annotations

from litestar.response import ServerSentEventMessage

from api.hub import Delivery, frame_tail
from api.streams import _live_message

RAW = b'{"specversion":"1.0","type":"conversation.message_received","data":{"text":"salam \\u00e9\\n"}}'


def delivery(raw: bytes, event_type: str = "conversation.message_received") -> Delivery:
    return Delivery(
        partition=3,
        log_id="1795600000000-0",
        stream="conversation-c1",
        version=2,
        type=event_type,
        data=raw.decode(),
        frame_tail=frame_tail(event_type, raw),
    )


def test_a_pre_encoded_frame_equals_litestars_encoding() -> None:
    live = delivery(RAW)
    assert live.frame_tail is not None
    expected = ServerSentEventMessage(
        data=RAW.decode(), event=live.type, id="0:1-0,3:1795600000000-0"
    ).encode()
    assert _live_message(live, "0:1-0,3:1795600000000-0").encode() == expected


def test_text_with_a_line_break_is_framed_line_by_line() -> None:
    pretty = b'{\n  "type": "x"\n}'
    live = delivery(pretty)
    assert live.frame_tail is None
    encoded = _live_message(live, "7").encode()
    assert encoded == ServerSentEventMessage(data=pretty.decode(), event=live.type, id="7").encode()
    assert encoded.count(b"data: ") == 3
