"""Maps wire type names to payload Structs, upcasts old versions, and exports JSON Schemas."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import msgspec.inspect as mi

from domain.envelope import DomainEvent, Envelope, WireEnvelope
from domain.errors import MalformedEvent, UnknownEventType

# An upcaster turns the JSON object of one version into the JSON object of the next one.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_wire_decoder = msgspec.json.Decoder(WireEnvelope)


class _TypeOnly(msgspec.Struct):
    type: str


_type_decoder = msgspec.json.Decoder(_TypeOnly)


class EventRegistry:
    """The catalogue of event types; the only place that knows type name ↔ Struct."""

    def __init__(self, events: Iterable[type[DomainEvent]] = ()) -> None:
        self._by_type: dict[str, type[DomainEvent]] = {}
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._envelope_decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._upcasters: dict[str, tuple[str, Upcaster]] = {}
        for event in events:
            self.register(event)

    def register(self, event: type[DomainEvent]) -> None:
        name = type_name(event)
        if name in self._by_type:
            raise ValueError(f"event type {name!r} registered twice")
        _refuse_floats(event)
        self._by_type[name] = event
        self._decoders[name] = msgspec.json.Decoder(event)
        # One pass for the whole envelope: an Envelope subclass whose `data` is this payload type.
        # Untracked by the cycle collector (gc=False): frozen, it can be in no cycle, and the
        # projectors decode so many that collections took a third of their CPU (docs/benchmarks.md).
        typed = msgspec.defstruct(
            f"{event.__name__}Envelope",
            [("data", event)],
            bases=(Envelope,),
            kw_only=True,
            frozen=True,
            omit_defaults=True,
            gc=False,
        )
        self._envelope_decoders[name] = msgspec.json.Decoder(typed)

    def register_upcaster(self, old_type: str, new_type: str, upcast: Upcaster) -> None:
        """Read `old_type` payloads as `new_type`; chains compose (v1 → v2 → v3)."""
        if new_type not in self._by_type:
            raise UnknownEventType(new_type)
        self._upcasters[old_type] = (new_type, upcast)

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._by_type or event_type in self._upcasters

    def types(self) -> list[str]:
        return sorted(self._by_type)

    def struct_for(self, event_type: str) -> type[DomainEvent]:
        try:
            return self._by_type[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def decode_data(self, event_type: str, raw: bytes) -> DomainEvent:
        """Type a payload, upcasting it first when it was written by an older version."""
        decoder = self._decoders.get(event_type)
        try:
            if decoder is not None:
                return decoder.decode(raw)  # type: ignore[no-any-return]
            document = msgspec.json.decode(raw)
            while event_type not in self._by_type:
                if event_type not in self._upcasters:
                    raise UnknownEventType(event_type)
                event_type, upcast = self._upcasters[event_type]
                document = upcast(document)
            return msgspec.convert(document, self._by_type[event_type])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedEvent(f"{event_type}: {exc}") from exc

    def decode(self, raw: bytes) -> Envelope:
        """Bytes from the stream → typed envelope. Raises MalformedEvent / UnknownEventType.

        The result is an instance of a per-type subclass of `Envelope` (compare fields, not objects)."""
        try:
            decoder = self._envelope_decoders.get(_type_decoder.decode(raw).type)
            if decoder is not None:
                return decoder.decode(raw)  # type: ignore[no-any-return]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedEvent(str(exc)) from exc
        return self._decode_upcast(raw)

    def _decode_upcast(self, raw: bytes) -> Envelope:
        """The slow path: a type we only know through upcasters (or not at all)."""
        try:
            wire = _wire_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise MalformedEvent(str(exc)) from exc
        data = self.decode_data(wire.type, bytes(wire.data))
        fields = msgspec.structs.asdict(wire)
        fields["data"] = data
        return Envelope(**fields)

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """One JSON Schema per type, for the AsyncAPI document and external consumers."""
        return {name: msgspec.json.schema(event) for name, event in sorted(self._by_type.items())}


def type_name(event: type[DomainEvent]) -> str:
    name = getattr(event, "event_type", None)
    if not isinstance(name, str):
        raise TypeError(f"{event.__name__} has no `event_type: ClassVar[str]`")
    return name


def _refuse_floats(event: type[DomainEvent]) -> None:
    """Floats have no single canonical JSON form across languages; the hash chain needs one."""
    seen: set[type] = set()

    def walk(t: mi.Type) -> None:
        if isinstance(t, mi.FloatType):
            raise TypeError(f"{event.__name__}: float fields are not allowed in events (use int units)")
        if isinstance(t, mi.StructType):
            if t.cls in seen:
                return
            seen.add(t.cls)
            for field in t.fields:
                walk(field.type)
        for child in _children(t):
            walk(child)

    walk(mi.type_info(event))


def _children(t: mi.Type) -> list[mi.Type]:
    if isinstance(t, mi.UnionType):
        return list(t.types)
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return [t.item_type]
    if isinstance(t, mi.TupleType):
        return list(t.item_types)
    if isinstance(t, mi.DictType):
        return [t.key_type, t.value_type]
    return []
