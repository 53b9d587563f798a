"""The offline planner's answers for the orchestrator and the three specialists, from a Reading.

Pure functions. What the request leaves unsaid but a workflow needs (which store, which carrier) is
assumed the way an Algerian merchant most likely means it, and every such guess is written down as an
`assumption` fact so the person approving the workflow sees it.
"""

from __future__ import annotations

from typing import Final

from inference.offline_lexicon import WEEKDAYS, Cadence, Carrier, Channel, Period, Reading, Source, Topic
from inference.schemas import AgentFindingOutput, AgentTask, FindingFact, OrchestratorPlan, PlannedIntent

SOURCE_NAMES: Final = {"shopify": "Shopify", "woocommerce": "WooCommerce"}
CARRIER_NAMES: Final = {"yalidine": "Yalidine", "zr_express": "ZR Express"}
CHANNEL_NAMES: Final = {
    "slack": "Slack",
    "email": "e-mail",
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "google_sheets": "Google Sheets",
}
CARRIER_ENDPOINTS: Final = {
    "yalidine": "https://api.yalidine.app/v1/parcels/",
    "zr_express": "https://procolis.com/api_v1/add_colis",
}
_PAYMENT_NAMES: Final = {
    "ccp": "CCP",
    "baridimob": "BaridiMob",
    "cib": "CIB",
    "edahabia": "Edahabia",
    "cash_on_delivery": "cash on delivery",
}
_FINANCE_GOALS: Final = {
    "invoicing": "the HT, TVA and TTC amounts of each invoice",
    "vat_breakdown": "the TVA included in each order",
    "payment_reconciliation": "the amounts collected per payment method",
    "payment_tracking": "the payments received",
}
_PERIOD_WORDS: Final = {
    "last_hour": "the last hour",
    "today": "today",
    "yesterday": "yesterday",
    "last_week": "the last 7 days",
    "last_month": "last month",
}
_PERIOD_OF_CADENCE: Final[dict[Cadence, Period]] = {
    "hourly": "last_hour",
    "daily": "yesterday",
    "weekly": "last_week",
    "monthly": "last_month",
}
_CLARIFY: Final = PlannedIntent(name="clarification_needed", confidence=20, agents=())


def source_of(reading: Reading) -> Source:
    return reading.sources[0] if reading.sources else "shopify"


def carrier_of(reading: Reading) -> Carrier:
    return reading.carriers[0] if reading.carriers else "yalidine"


def period_of(reading: Reading) -> Period:
    """The orders' period: what the user said, else what the schedule implies, else today."""
    if reading.period is not None:
        return reading.period
    if reading.schedule is None:
        return "today"
    return _PERIOD_OF_CADENCE[reading.schedule.cadence]


def wants_report(reading: Reading) -> bool:
    """A sales total to send: asked for, or implied by orders on a schedule with somewhere to send
    them and no other concern (delivery, finance) that the channel could be reporting instead."""
    if not reading.hits("sales"):
        return False
    alone = not reading.hits("logistics") and not reading.hits("finance")
    # A sheet takes the orders themselves as rows; a message channel wants a figure.
    messaged = any(channel != "google_sheets" for channel in reading.channels)
    return reading.wants_total or (alone and reading.schedule is not None and messaged)


def tracks_parcels(reading: Reading) -> bool:
    """Following parcels already sent ("suivi des colis"), rather than creating new ones."""
    return reading.hits("logistics") > 0 and reading.tracking and not reading.paid_only


def when_text(reading: Reading) -> str:
    if reading.schedule is not None:
        s = reading.schedule
        at = f"{s.hour:02d}:{s.minute:02d}"
        words = {
            "hourly": f"every hour at minute {s.minute:02d}",
            "daily": f"every day at {at}",
            "weekly": f"every {WEEKDAYS[s.weekday].capitalize()} at {at}",
            "monthly": f"on the 1st of every month at {at}",
        }
        return f"{words[s.cadence]} (Africa/Algiers time)"
    if reading.on_new_order or reading.sources:  # a named store without a schedule: its order trigger
        return f"on every new {SOURCE_NAMES[source_of(reading)]} order"
    return "when called by a webhook"


def channels_text(channels: tuple[Channel, ...]) -> str:
    return " and ".join(CHANNEL_NAMES[channel] for channel in channels) or "e-mail"


# --- orchestrator -------------------------------------------------------------------------------


def plan(reading: Reading) -> OrchestratorPlan:
    intents = tuple(_intent(topic, hits, reading) for topic, hits in reading.topics)
    if not intents:
        summary = "The request names no orders, deliveries or payments to automate; ask what to automate."
        return OrchestratorPlan(intents=(_CLARIFY,), summary=summary, tasks=(), language=reading.language)
    tasks = tuple(AgentTask(agent=topic, task=_task(topic, reading)) for topic in reading.agents)
    return OrchestratorPlan(
        intents=intents, summary=_summary(reading), tasks=tasks, language=reading.language
    )


def _intent(topic: Topic, hits: int, reading: Reading) -> PlannedIntent:
    confidence = min(95, 55 + 12 * hits)
    if topic == "sales":
        return PlannedIntent(name=_sales_intent(reading), confidence=confidence, agents=("sales",))
    if topic == "logistics":
        helpers: tuple[Topic, ...] = ("logistics", "sales") if reading.hits("sales") else ("logistics",)
        return PlannedIntent(name=_logistics_intent(reading), confidence=confidence, agents=helpers)
    return PlannedIntent(name=_finance_intent(reading), confidence=confidence, agents=("finance",))


def _sales_intent(reading: Reading) -> str:
    if wants_report(reading):
        cadence = reading.schedule.cadence if reading.schedule else None
        return f"{cadence}_sales_report" if cadence else "sales_report"
    return "new_order_alert" if reading.on_new_order else "order_sync"


def _logistics_intent(reading: Reading) -> str:
    if tracks_parcels(reading):
        return "shipment_tracking"
    return "notify_courier_for_paid_orders" if reading.paid_only else "notify_courier"


def _finance_intent(reading: Reading) -> str:
    if reading.invoices:
        return "invoicing"
    if reading.vat:
        return "vat_breakdown"
    return "payment_reconciliation" if reading.payments else "payment_tracking"


def _summary(reading: Reading) -> str:
    parts = []
    if wants_report(reading):
        source = SOURCE_NAMES[source_of(reading)]
        period = _PERIOD_WORDS[period_of(reading)]
        parts.append(f"send the total of {source} orders of {period} to {channels_text(reading.channels)}")
    carrier = CARRIER_NAMES[carrier_of(reading)]
    if tracks_parcels(reading):
        parts.append(f"send the {carrier} parcels not delivered yet to {channels_text(reading.channels)}")
    elif reading.hits("logistics"):
        parts.append(f"notify the {carrier} courier about the {_shipped(reading)}")
    if reading.hits("finance"):
        parts.append(f"compute {_finance_goal(reading)} and send it to {channels_text(reading.channels)}")
    if not parts:
        parts.append(
            f"forward {SOURCE_NAMES[source_of(reading)]} orders to {channels_text(reading.channels)}"
        )
    when = when_text(reading)
    return f"{when[0].upper()}{when[1:]}: {'; '.join(parts)}."


def _task(topic: Topic, reading: Reading) -> str:
    when = when_text(reading)
    if topic == "sales":
        source = SOURCE_NAMES[source_of(reading)] if reading.sources else "store's"  # see _sales_finding
        scope = "paid orders" if reading.paid_only and not reading.hits("logistics") else "orders"
        goal = "compute their total in DA and their count" if wants_report(reading) else "pass each one on"
        period = _PERIOD_WORDS[period_of(reading)]
        task = f"Find how to read the {source} {scope} of {period}, {when}, and {goal}"
        return f"{task} to {channels_text(reading.channels)}." if reading.channels else f"{task}."
    if topic == "logistics":
        carrier = CARRIER_NAMES[carrier_of(reading)]
        if tracks_parcels(reading):
            return f"Find how to list the {carrier} parcels not delivered yet, {when}, through its API."
        shipped = _shipped(reading)
        return f"Find how to notify the {carrier} courier for the {shipped}, {when}, creating parcels by API."
    return f"Find how to compute {_finance_goal(reading)}, {when}, amounts in DA."


def _shipped(reading: Reading) -> str:
    """What parcels are created for. The designer reads the words of tasks and findings (fact keys
    too) again: "orders" would add a sales request (a total, a Summarize node) the user never made."""
    if not reading.hits("sales"):
        return "paid shipments" if reading.paid_only else "shipments"
    return "paid orders" if reading.paid_only else "orders"


def _finance_goal(reading: Reading) -> str:
    """What the finance branch computes, in words that do not read back as another request (no
    "report" or "total", no payment methods the user did not name)."""
    goal = _FINANCE_GOALS[_finance_intent(reading)]
    if reading.payments:
        goal += f" (payments by {', '.join(_PAYMENT_NAMES[p] for p in reading.payments)})"
    return goal


# --- specialists --------------------------------------------------------------------------------


def finding(topic: Topic, reading: Reading) -> AgentFindingOutput:
    match topic:
        case "sales":
            return _sales_finding(reading)
        case "logistics":
            return _logistics_finding(reading)
        case "finance":
            return _finance_finding(reading)


def _fact(key: str, value: str) -> FindingFact:
    return FindingFact(key=key, value=value)


def _delivery_facts(reading: Reading) -> list[FindingFact]:
    facts = [_fact("trigger", when_text(reading))]
    if reading.schedule is not None:
        facts.append(_fact("cron", f"{reading.schedule.cron()} Africa/Algiers"))
    facts += [_fact("channel", CHANNEL_NAMES[channel]) for channel in reading.channels]
    return facts


def _sales_finding(reading: Reading) -> AgentFindingOutput:
    """A store the user did not name is only written down as an assumption: read back by the designer,
    "Shopify" would turn orders sent to a webhook into a Shopify trigger."""
    source = source_of(reading)
    named = bool(reading.sources)
    facts = [_fact("source", SOURCE_NAMES[source])] if named else []
    facts += [_fact("period", period_of(reading)), *_delivery_facts(reading)]
    if not named:
        facts.append(_fact("assumption", "no store named: Shopify assumed"))
    if reading.paid_only and not reading.hits("logistics"):
        facts.append(_fact("filter", "financial_status = paid"))
    if named or reading.schedule is not None or reading.on_new_order:
        nodes = [f"n8n-nodes-base.{_node(source)}{'Trigger' if reading.on_new_order else ''}"]
    else:
        nodes = ["n8n-nodes-base.webhook"]  # the orders come with the call
    if wants_report(reading):
        facts.append(_fact("metric", "sum of total_price in DZD, count of orders"))
        nodes.append("n8n-nodes-base.summarize")
    store = SOURCE_NAMES[source] if named else "the store's"
    summary = f"Read {store} orders ({_PERIOD_WORDS[period_of(reading)]}) {when_text(reading)}"
    summary += "; sum their totals in DA." if wants_report(reading) else "."
    return AgentFindingOutput(summary=summary, facts=tuple(facts), n8n_nodes=tuple(nodes))


def _logistics_finding(reading: Reading) -> AgentFindingOutput:
    carrier = carrier_of(reading)
    if tracks_parcels(reading):
        return _tracking_finding(reading)
    facts = [
        _fact("carrier", CARRIER_NAMES[carrier]),
        _fact("endpoint", CARRIER_ENDPOINTS[carrier]),
        _fact("action", "create_parcel"),
        _fact(
            "orders" if reading.hits("sales") else "shipments",
            "paid only" if reading.paid_only else "all of them",
        ),
        _fact("required_fields", "name, phone, wilaya, commune, address, items, amount in DA"),
    ]
    if not reading.carriers:
        facts.append(_fact("assumption", "no carrier named: Yalidine assumed"))
    nodes = ("n8n-nodes-base.filter",) if reading.paid_only else ()
    when = when_text(reading)
    shipped = _shipped(reading)
    summary = f"Create a {CARRIER_NAMES[carrier]} parcel for each of the {shipped} through its API, {when}."
    return AgentFindingOutput(
        summary=summary, facts=tuple(facts), n8n_nodes=(*nodes, "n8n-nodes-base.httpRequest")
    )


def _tracking_finding(reading: Reading) -> AgentFindingOutput:
    carrier = CARRIER_NAMES[carrier_of(reading)]
    facts = [
        _fact("carrier", carrier),
        _fact("action", "list_parcels"),
        _fact("filter", "last status is not Livré"),
        *_delivery_facts(reading),
    ]
    if not reading.carriers:
        facts.append(_fact("assumption", "no carrier named: Yalidine assumed"))
    nodes = ("n8n-nodes-base.httpRequest", "n8n-nodes-base.splitOut", "n8n-nodes-base.filter")
    summary = f"List the {carrier} parcels not delivered yet through its API, {when_text(reading)}."
    return AgentFindingOutput(summary=summary, facts=tuple(facts), n8n_nodes=nodes)


def _finance_finding(reading: Reading) -> AgentFindingOutput:
    methods = ", ".join(_PAYMENT_NAMES[p] for p in reading.payments) or "not named"
    facts = [_fact("currency", "DZD"), _fact("payment_methods", methods), *_delivery_facts(reading)]
    if not reading.sources and reading.schedule is not None:
        facts.append(_fact("assumption", "amounts read from the store's orders: Shopify assumed"))
    if reading.invoices or reading.vat:
        facts.append(_fact("vat_rate", "19% standard, 9% reduced: an accountant should confirm the rate"))
    nodes = ["n8n-nodes-base.code"]
    nodes += [f"n8n-nodes-base.{_node(channel)}" for channel in reading.channels]
    summary = f"Compute {_finance_goal(reading)} in DA, {when_text(reading)}."
    return AgentFindingOutput(summary=summary, facts=tuple(facts), n8n_nodes=tuple(nodes))


def _node(name: str) -> str:
    """n8n's type name for a source or channel of ours."""
    return {
        "woocommerce": "wooCommerce",
        "email": "emailSend",
        "whatsapp": "whatsApp",
        "google_sheets": "googleSheets",
    }.get(name, name)
