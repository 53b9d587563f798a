"""n8n 2.8 nodes the offline designer knows how to configure, with real types, typeVersions and parameters.

Each factory returns a `NodeSpec`: what the designer needs before names are made unique and nodes
placed. Only top-level parameter names listed for the type in the n8n 2.8.4 catalogue are used.
Order fields differ between Shopify and WooCommerce, so expressions come from `ORDER_FIELDS`.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import msgspec

from inference.offline_lexicon import Carrier, Period, Schedule, Source

NAMESPACE: Final = uuid.UUID("8d5f0f2e-3c51-4c1a-9a43-6f1c1f0e2a11")  # ids are stable per workflow


class NodeSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    version: int | float
    parameters: dict[str, Any]
    webhook_path: str | None = None


class OrderFields(msgspec.Struct, frozen=True, kw_only=True):
    """JavaScript expressions (inside {{ }}) reading one order item of a store."""

    number: str
    total: str
    total_field: str  # the numeric field a Summarize node sums
    first_name: str
    last_name: str
    phone: str
    address: str
    wilaya: str
    commune: str
    products: str
    paid: str  # boolean expression: the order is paid
    payment_method: str


ORDER_FIELDS: Final[dict[Source, OrderFields]] = {
    "shopify": OrderFields(
        number="String($json.order_number)",
        total="Math.round(Number($json.total_price))",
        total_field="total_price",
        first_name="$json.shipping_address?.first_name ?? ''",
        last_name="$json.shipping_address?.last_name ?? ''",
        phone="$json.shipping_address?.phone ?? $json.phone ?? ''",
        address="$json.shipping_address?.address1 ?? ''",
        wilaya="$json.shipping_address?.province ?? ''",
        commune="$json.shipping_address?.city ?? ''",
        products="($json.line_items ?? []).map(i => i.quantity + ' x ' + i.title).join(', ')",
        paid="$json.financial_status === 'paid'",
        payment_method="($json.payment_gateway_names ?? []).join(', ') || 'unknown'",
    ),
    "woocommerce": OrderFields(
        number="String($json.number)",
        total="Math.round(Number($json.total))",
        total_field="total",
        first_name="$json.shipping?.first_name || $json.billing?.first_name || ''",
        last_name="$json.shipping?.last_name || $json.billing?.last_name || ''",
        phone="$json.billing?.phone ?? ''",
        address="$json.shipping?.address_1 || $json.billing?.address_1 || ''",
        wilaya="$json.shipping?.state || $json.billing?.state || ''",
        commune="$json.shipping?.city || $json.billing?.city || ''",
        products="($json.line_items ?? []).map(i => i.quantity + ' x ' + i.name).join(', ')",
        paid="['processing', 'completed'].includes($json.status)",
        payment_method="$json.payment_method_title || 'unknown'",
    ),
}

# --- triggers ------------------------------------------------------------------------------------


def schedule_trigger(schedule: Schedule) -> NodeSpec:
    rule = {"interval": [{"field": "cronExpression", "expression": schedule.cron()}]}
    name = {
        "hourly": "Every Hour",
        "daily": f"Every Day at {schedule.hour:02d}:{schedule.minute:02d}",
        "weekly": "Every Monday",
        "monthly": "Every Month",
    }[schedule.cadence]
    return NodeSpec(name=name, type="n8n-nodes-base.scheduleTrigger", version=1.2, parameters={"rule": rule})


def order_trigger(source: Source, *, paid_only: bool) -> NodeSpec:
    if source == "shopify":
        topic = "orders/paid" if paid_only else "orders/create"
        return NodeSpec(
            name="Shopify Order Trigger",
            type="n8n-nodes-base.shopifyTrigger",
            version=1,
            parameters={"topic": topic},
        )
    return NodeSpec(
        name="WooCommerce Order Trigger",
        type="n8n-nodes-base.wooCommerceTrigger",
        version=1,
        parameters={"event": "order.created"},
    )


def webhook_trigger(path: str) -> NodeSpec:
    parameters = {"httpMethod": "POST", "path": path, "responseMode": "onReceived", "options": {}}
    return NodeSpec(
        name="Incoming Request",
        type="n8n-nodes-base.webhook",
        version=2,
        parameters=parameters,
        webhook_path=path,
    )


# --- orders --------------------------------------------------------------------------------------

_RANGES: Final = {
    "last_hour": ("$now.minus({ hours: 1 })", "$now"),
    "today": ("$today", "$now"),
    "yesterday": ("$today.minus({ days: 1 })", "$today"),
    "last_week": ("$today.minus({ days: 7 })", "$today"),
    "last_month": ("$today.minus({ months: 1 }).startOf('month')", "$today.startOf('month')"),
}


def fetch_orders(source: Source, period: Period) -> NodeSpec:
    start, end = (f"={{{{ {bound}.toISO() }}}}" for bound in _RANGES[period])
    if source == "shopify":
        options = {"createdAtMin": start, "createdAtMax": end, "status": "any"}
        parameters = {"resource": "order", "operation": "getAll", "returnAll": True, "options": options}
        return NodeSpec(
            name="Get Shopify Orders", type="n8n-nodes-base.shopify", version=1, parameters=parameters
        )
    options = {"after": start, "before": end}
    parameters = {"resource": "order", "operation": "getAll", "returnAll": True, "options": options}
    return NodeSpec(
        name="Get WooCommerce Orders", type="n8n-nodes-base.wooCommerce", version=1, parameters=parameters
    )


def sum_orders(source: Source) -> NodeSpec:
    field = ORDER_FIELDS[source].total_field
    values = [{"aggregation": "sum", "field": field}, {"aggregation": "count", "field": "id"}]
    return NodeSpec(
        name="Sum Order Totals",
        type="n8n-nodes-base.summarize",
        version=1.1,
        parameters={"fieldsToSummarize": {"values": values}, "options": {}},
    )


def paid_filter(source: Source) -> NodeSpec:
    return _boolean_filter("Paid Orders Only", ORDER_FIELDS[source].paid)


def _boolean_filter(name: str, expression: str) -> NodeSpec:
    """A Filter (v2.2) keeping the items for which a JavaScript expression is true."""
    condition = {
        "id": str(uuid.uuid5(NAMESPACE, f"filter:{expression}")),
        "leftValue": f"={{{{ {expression} }}}}",
        "rightValue": "",
        "operator": {"type": "boolean", "operation": "true", "singleValue": True},
    }
    conditions = {
        "options": {"caseSensitive": True, "leftValue": "", "typeValidation": "strict", "version": 2},
        "conditions": [condition],
        "combinator": "and",
    }
    parameters = {"conditions": conditions, "options": {}}
    return NodeSpec(name=name, type="n8n-nodes-base.filter", version=2.2, parameters=parameters)


# --- carriers ------------------------------------------------------------------------------------

CARRIER_API: Final[dict[Carrier, tuple[str, str, str]]] = {
    # carrier -> (create parcels URL, list parcels URL, account header)
    "yalidine": ("https://api.yalidine.app/v1/parcels/", "https://api.yalidine.app/v1/parcels/", "X-API-ID"),
    "zr_express": ("https://procolis.com/api_v1/add_colis", "https://procolis.com/api_v1/lire", "key"),
}
_CARRIER_LABELS: Final[dict[Carrier, str]] = {"yalidine": "Yalidine", "zr_express": "ZR Express"}


def create_parcels(carrier: Carrier, source: Source) -> NodeSpec:
    body = (
        _yalidine_parcels(ORDER_FIELDS[source])
        if carrier == "yalidine"
        else _zr_parcels(ORDER_FIELDS[source])
    )
    parameters = _carrier_call(carrier, "POST", CARRIER_API[carrier][0])
    parameters |= {"sendBody": True, "specifyBody": "json", "jsonBody": f"={{{{ JSON.stringify({body}) }}}}"}
    name = f"Create {_CARRIER_LABELS[carrier]} Parcel"
    return NodeSpec(name=name, type="n8n-nodes-base.httpRequest", version=4.2, parameters=parameters)


def _yalidine_parcels(f: OrderFields) -> str:
    """The body of Yalidine's POST /v1/parcels/: a list of parcels (JavaScript, inside {{ }})."""
    parcel = {
        "order_id": f.number,
        "firstname": f.first_name,
        "familyname": f.last_name,
        "contact_phone": f.phone,
        "address": f.address,
        "to_wilaya_name": f.wilaya,
        "to_commune_name": f.commune,
        "product_list": f.products,
        "price": f.total,
        "do_insurance": "false",
        "declared_value": f.total,
        "freeshipping": "false",
        "is_stopdesk": "false",
        "has_exchange": "false",
    }
    return f"[{_js_object(parcel)}]"


def _zr_parcels(f: OrderFields) -> str:
    """The body of ZR Express (Procolis) add_colis: {Colis: [...]} (JavaScript, inside {{ }})."""
    parcel = {
        "Tracking": f.number,
        "TypeLivraison": "'0'",
        "TypeColis": "'0'",
        "Client": f"({f.first_name}) + ' ' + ({f.last_name})",
        "MobileA": f.phone,
        "Adresse": f.address,
        "IDWilaya": f.wilaya,
        "Commune": f.commune,
        "Total": f.total,
        "TProduit": f.products,
        "id_Externe": f.number,
    }
    return f"{{ Colis: [{_js_object(parcel)}] }}"


def list_parcels(carrier: Carrier) -> NodeSpec:
    method = "GET" if carrier == "yalidine" else "POST"
    parameters = _carrier_call(carrier, method, CARRIER_API[carrier][1])
    name = f"Get {_CARRIER_LABELS[carrier]} Parcels"
    return NodeSpec(name=name, type="n8n-nodes-base.httpRequest", version=4.2, parameters=parameters)


def split_parcels(carrier: Carrier) -> NodeSpec:
    """The carrier answers one page holding a list: one item per parcel from here on."""
    field = "data" if carrier == "yalidine" else "Colis"
    parameters = {"fieldToSplitOut": field, "include": "noOtherFields", "options": {}}
    return NodeSpec(
        name="One Item per Parcel", type="n8n-nodes-base.splitOut", version=1, parameters=parameters
    )


def undelivered_filter() -> NodeSpec:
    return _boolean_filter("Not Delivered Yet", "($json.last_status ?? $json.Situation) !== 'Livré'")


def _carrier_call(carrier: Carrier, method: str, url: str) -> dict[str, Any]:
    header = CARRIER_API[carrier][2]
    return {
        "method": method,
        "url": url,
        # The API token lives in an n8n credential (header auth); the account id is set at review.
        "authentication": "genericCredentialType",
        "genericAuthType": "httpHeaderAuth",
        "sendHeaders": True,
        "headerParameters": {"parameters": [{"name": header, "value": f"SET_{carrier.upper()}_ACCOUNT_ID"}]},
        "options": {},
    }


def _js_object(fields: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{key}: {value}" for key, value in fields.items()) + " }"


# --- finance -------------------------------------------------------------------------------------

_VAT_CODE: Final = """// TVA 19 % included in each order's total (an accountant should confirm the rate).
const RATE = 0.19;
return $input.all().map((item) => {{
  const $json = item.json;
  const ttc = {total};
  const ht = Math.round(ttc / (1 + RATE));
  return {{ json: {{ order: {number}, ttc, ht, tva: ttc - ht, payment: {method} }} }};
}});
"""
_PAYMENTS_CODE: Final = """// Amounts in DA collected per payment method (CCP, BaridiMob, CIB, cash...).
const totals = {{}};
for (const item of $input.all()) {{
  const $json = item.json;
  const method = {method};
  totals[method] = (totals[method] ?? 0) + {total};
}}
return Object.entries(totals).map(([method, total]) => ({{ json: {{ method, total }} }}));
"""


def finance_code(source: Source, *, vat: bool) -> NodeSpec:
    f = ORDER_FIELDS[source]
    template, name = (_VAT_CODE, "Compute TVA") if vat else (_PAYMENTS_CODE, "Totals per Payment Method")
    code = template.format(total=f.total, number=f.number, method=f.payment_method)
    parameters = {"mode": "runOnceForAllItems", "language": "javaScript", "jsCode": code}
    return NodeSpec(name=name, type="n8n-nodes-base.code", version=2, parameters=parameters)
