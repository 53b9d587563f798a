"""The offline designer: a Reading becomes one n8n workflow (trigger, orders, branches, channels).

Shape: one trigger; the orders it needs (fetched on a schedule, or carried by the order trigger or
webhook); then one branch per concern (sales total, courier parcels, finance computation); channels
hang off the branch whose result they report. Connections are keyed by node name, as n8n wants.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Final, Literal

import msgspec

from inference.offline_channels import Message, deliver
from inference.offline_lexicon import Channel, Period, Reading
from inference.offline_nodes import (
    NAMESPACE,
    NodeSpec,
    create_parcels,
    fetch_orders,
    finance_code,
    list_parcels,
    order_trigger,
    paid_filter,
    schedule_trigger,
    split_parcels,
    sum_orders,
    undelivered_filter,
    webhook_trigger,
)
from inference.offline_plans import (
    CARRIER_NAMES,
    SOURCE_NAMES,
    carrier_of,
    period_of,
    source_of,
    tracks_parcels,
    wants_report,
)
from inference.schemas import Connections, ConnectionTarget, WorkflowDesign, WorkflowNode, WorkflowSettings

Branch = str  # "report" | "courier" | "finance" | "forward"
_X0, _DX, _Y0, _DY = 0, 220, 300, 180
_MESSAGE_PRIORITY: Final = ("report", "tracking", "finance", "forward", "generic", "courier")
_SHEET_PRIORITY: Final = ("finance", "report", "tracking", "forward", "generic", "courier")

MESSAGES_FILE: Final = Path(__file__).with_name("offline_messages.toml")


class _Texts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    report: str
    forward: str
    courier: str
    vat: str
    payments: str
    name_report: str
    name_courier: str
    name_finance: str
    name_forward: str
    name_tracking: str
    name_generic: str
    tracking: str
    generic: str
    periods: dict[Period, str]


_TEXTS: Final = msgspec.toml.decode(MESSAGES_FILE.read_bytes(), type=dict[Literal["fr", "en", "ar"], _Texts])
_TOKEN = re.compile(r"<([a-z]+)>")


class _Graph:
    """Nodes in insertion order and edges (source name, target name), all from output 0."""

    def __init__(self) -> None:
        self.nodes: list[NodeSpec] = []
        self.edges: list[tuple[str, str]] = []

    def add(self, spec: NodeSpec, after: NodeSpec | None = None) -> NodeSpec:
        self.nodes.append(spec)
        if after is not None:
            self.edges.append((after.name, spec.name))
        return spec


def design_workflow(reading: Reading, request: str = "") -> WorkflowDesign:
    """`request` (the conversation's text) keys what must differ between workflows: a webhook's path."""
    graph = _Graph()
    trigger = graph.add(_trigger(reading, request))
    data = trigger
    if reading.schedule is not None and _needs_orders(reading):
        data = graph.add(fetch_orders(source_of(reading), period_of(reading)), after=trigger)
    ends = _branches(reading, graph, data)
    _attach_channels(reading, graph, ends, data)
    name = _workflow_name(reading, ends)
    return WorkflowDesign(
        name=name,
        nodes=_placed(graph, name),
        connections=_connections(graph),
        settings=WorkflowSettings(executionOrder="v1", timezone="Africa/Algiers"),
    )


def _trigger(reading: Reading, request: str) -> NodeSpec:
    if reading.schedule is not None:
        return schedule_trigger(reading.schedule)
    if reading.on_new_order or reading.sources:
        return order_trigger(source_of(reading), paid_only=reading.paid_only)
    return webhook_trigger(f"{_slug(' '.join(reading.agents) or 'automation')}-{_request_key(request)}")


def _request_key(request: str) -> str:
    """Six hex digits of the conversation's first line: two workflows of a tenant may not listen on one
    path (n8n refuses the second), while the revisions of one keep theirs."""
    first = next((line.strip() for line in request.splitlines() if line.strip()), "")
    return hashlib.sha256(first.encode()).hexdigest()[:6]


def _needs_orders(reading: Reading) -> bool:
    parcels_only = tracks_parcels(reading) and not reading.hits("sales") and not reading.hits("finance")
    return bool(reading.topics) and not parcels_only


def _branches(reading: Reading, graph: _Graph, data: NodeSpec) -> dict[Branch, NodeSpec]:
    source = source_of(reading)
    ends: dict[Branch, NodeSpec] = {}
    if wants_report(reading):
        ends["report"] = graph.add(sum_orders(source), after=data)
    if tracks_parcels(reading):
        carrier = carrier_of(reading)
        parcels = graph.add(list_parcels(carrier), after=graph.nodes[0])  # the carrier, not the store
        ends["tracking"] = graph.add(
            undelivered_filter(), after=graph.add(split_parcels(carrier), after=parcels)
        )
    elif reading.hits("logistics"):
        courier = data
        # A Shopify "orders/paid" trigger already delivers paid orders only.
        if reading.paid_only and data.type != "n8n-nodes-base.shopifyTrigger":
            courier = graph.add(paid_filter(source), after=data)
        ends["courier"] = graph.add(create_parcels(carrier_of(reading), source), after=courier)
    if reading.hits("finance"):
        ends["finance"] = graph.add(finance_code(source, vat=reading.vat or reading.invoices), after=data)
    if not ends:
        ends["forward" if reading.topics else "generic"] = data
    return ends


def _attach_channels(reading: Reading, graph: _Graph, ends: dict[Branch, NodeSpec], data: NodeSpec) -> None:
    channels: tuple[Channel, ...] = reading.channels
    if not channels and not set(ends) <= {"courier"}:
        channels = ("email",)  # "envoie-moi ..." with no channel named: e-mail reaches everyone
    for channel in channels:
        priority = _SHEET_PRIORITY if channel == "google_sheets" else _MESSAGE_PRIORITY
        branch = next(b for b in priority if b in ends)
        text = _message(reading, branch, data)
        subject = _workflow_name(reading, {branch: ends[branch]})
        message = Message(text, subject=subject, slack_channel=reading.slack_channel)
        graph.add(deliver(channel, message), after=ends[branch])


def _texts(reading: Reading) -> _Texts:
    return _TEXTS["fr" if reading.language == "darija" else reading.language]


def _fill(template: str, reading: Reading, node: str = "") -> str:
    source = source_of(reading)
    values = {
        "source": SOURCE_NAMES[source],
        "carrier": CARRIER_NAMES[carrier_of(reading)],
        "period": _texts(reading).periods[period_of(reading)],
        "field": "total_price" if source == "shopify" else "total",
        "number": "$json.order_number ?? $json.number",
        "total": "$json.total_price ?? $json.total",
        "node": node,
    }
    return _TOKEN.sub(lambda match: values[match.group(1)], template)


def _message(reading: Reading, branch: Branch, data: NodeSpec) -> str:
    texts = _texts(reading)
    if branch == "finance":
        template = texts.vat if reading.vat or reading.invoices else texts.payments
    else:
        template = {
            "report": texts.report,
            "courier": texts.courier,
            "forward": texts.forward,
            "tracking": texts.tracking,
            "generic": texts.generic,
        }[branch]
    return "=" + _fill(template, reading, data.name)


def _workflow_name(reading: Reading, ends: dict[Branch, NodeSpec]) -> str:
    texts = _texts(reading)
    names = {
        "report": texts.name_report,
        "courier": texts.name_courier,
        "finance": texts.name_finance,
        "forward": texts.name_forward,
        "tracking": texts.name_tracking,
        "generic": texts.name_generic,
    }
    return " + ".join(_fill(names[branch], reading) for branch in ends)


def _placed(graph: _Graph, workflow_name: str) -> tuple[WorkflowNode, ...]:
    """Left to right by distance from the trigger; a first child stays on its parent's row,
    every further child opens a row below, so each branch reads as one line."""
    column, row = {graph.nodes[0].name: 0}, {graph.nodes[0].name: 0}
    has_child: set[str] = set()
    rows = 1
    for source, target in graph.edges:  # edges are added after their source: one pass suffices
        column[target] = column[source] + 1
        if source in has_child:
            row[target], rows = rows, rows + 1
        else:
            row[target] = row[source]
            has_child.add(source)
    return tuple(
        _node(spec, workflow_name, (_X0 + _DX * column[spec.name], _Y0 + _DY * row[spec.name]))
        for spec in graph.nodes
    )


def _node(spec: NodeSpec, workflow_name: str, position: tuple[int, int]) -> WorkflowNode:
    node_id = str(uuid.uuid5(NAMESPACE, f"{workflow_name}/{spec.name}"))
    webhook_id = str(uuid.uuid5(NAMESPACE, f"webhook/{spec.webhook_path}")) if spec.webhook_path else None
    return WorkflowNode(
        id=node_id,
        name=spec.name,
        type=spec.type,
        typeVersion=spec.version,
        position=position,
        parameters=spec.parameters,
        webhookId=webhook_id,
    )


def _connections(graph: _Graph) -> Connections:
    targets: dict[str, list[ConnectionTarget]] = {}
    for source, target in graph.edges:
        targets.setdefault(source, []).append(ConnectionTarget(node=target, type="main", index=0))
    return {source: {"main": (tuple(outs),)} for source, outs in targets.items()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "automation"
