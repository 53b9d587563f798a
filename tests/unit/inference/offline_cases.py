"""Requests in French, Arabic, Darija and English, with what a person would expect of each.

Shared by the offline planner and workflow tests.
"""

from __future__ import annotations

from typing import Final

import msgspec

REFERENCE: Final = (
    "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack, "
    "et préviens le livreur Yalidine pour les commandes payées"
)
N8N = "n8n-nodes-base."


class Case(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    language: str
    agents: frozenset[str]
    intents: frozenset[str] = frozenset()  # intent names the plan must contain
    trigger: str  # node type of the workflow's trigger
    cron: str | None = None  # the schedule's cron expression
    nodes: frozenset[str] = frozenset()  # node types the workflow must contain (besides the trigger)
    absent: frozenset[str] = frozenset()  # node types it must not contain


def case(
    text: str,
    language: str,
    agents: str,
    trigger: str,
    *,
    cron: str | None = None,
    intents: str = "",
    nodes: str = "",
    absent: str = "",
) -> Case:
    """Lists are space-separated; node types are written without the n8n-nodes-base. prefix."""
    return Case(
        text=text,
        language=language,
        agents=frozenset(agents.split()),
        intents=frozenset(intents.split()),
        trigger=N8N + trigger,
        cron=cron,
        nodes=frozenset(N8N + name for name in nodes.split()),
        absent=frozenset(N8N + name for name in absent.split()),
    )


CASES: Final = (
    case(REFERENCE, "fr", "sales logistics", "scheduleTrigger", cron="0 8 * * *",
         intents="daily_sales_report notify_courier_for_paid_orders",
         nodes="shopify summarize slack filter httpRequest"),
    case("Every morning, send me the total of yesterday's Shopify orders on Slack and notify the Yalidine "
         "courier for the paid orders", "en", "sales logistics", "scheduleTrigger", cron="0 8 * * *",
         intents="daily_sales_report notify_courier_for_paid_orders",
         nodes="shopify summarize slack filter httpRequest"),
    case("kol sbah b3athli total ta3 les commandes Shopify ta3 lbareh f Slack, w 9ol l livreur Yalidine "
         "3la les commandes li mkhalsin", "darija", "sales logistics", "scheduleTrigger", cron="0 8 * * *",
         intents="daily_sales_report notify_courier_for_paid_orders",
         nodes="shopify summarize slack filter httpRequest"),
    case("كل صباح أرسل لي مجموع طلبات شوبيفاي البارحة على سلاك وأبلغ موصل ياليدين بالطلبات المدفوعة",
         "ar", "sales logistics", "scheduleTrigger", cron="0 8 * * *",
         intents="daily_sales_report notify_courier_for_paid_orders",
         nodes="shopify summarize slack filter httpRequest"),
    case("kol sbah b3athli total ta3 les commandes ta3 lbareh f telegram", "darija", "sales",
         "scheduleTrigger", cron="0 8 * * *", intents="daily_sales_report",
         nodes="shopify summarize telegram", absent="httpRequest"),
    case("Every Monday at 9am send me a WooCommerce sales report by email", "en", "sales",
         "scheduleTrigger", cron="0 9 * * 1", intents="weekly_sales_report",
         nodes="wooCommerce summarize emailSend", absent="shopify"),
    case("Envoie-moi chaque lundi le chiffre d'affaires WooCommerce de la semaine dernière par e-mail", "fr",
         "sales", "scheduleTrigger", cron="0 8 * * 1", intents="weekly_sales_report",
         nodes="wooCommerce summarize emailSend"),
    case("À chaque nouvelle commande WooCommerce, crée le colis chez ZR Express", "fr",
         "sales logistics", "wooCommerceTrigger", intents="notify_courier", nodes="httpRequest",
         absent="scheduleTrigger summarize"),
    case("When a new Shopify order is paid, create a Yalidine parcel and tell me on WhatsApp", "en",
         "sales logistics", "shopifyTrigger", intents="notify_courier_for_paid_orders",
         nodes="httpRequest whatsApp", absent="filter"),
    case("ki tji commande jdida f shopify ab3athli message f whatsapp", "darija", "sales",
         "shopifyTrigger", intents="new_order_alert", nodes="whatsApp", absent="httpRequest"),
    case("عند كل طلب جديد أنشئ طرد ياليدين", "ar", "sales logistics", "shopifyTrigger",
         intents="notify_courier", nodes="httpRequest"),
    case("Chaque soir à 19h, fais le point des paiements BaridiMob et CIB de la journée sur Telegram", "fr",
         "finance", "scheduleTrigger", cron="0 19 * * *", intents="payment_reconciliation",
         nodes="shopify code telegram"),
    case("Calcule la TVA de chaque commande Shopify et mets-la dans un Google Sheet chaque mois", "fr",
         "sales finance", "scheduleTrigger", cron="0 8 1 * *", intents="vat_breakdown",
         nodes="shopify code googleSheets", absent="summarize"),
    case("Suivi des colis Yalidine chaque soir, envoie-moi les colis non livrés par mail", "fr",
         "logistics", "scheduleTrigger", cron="0 20 * * *", intents="shipment_tracking",
         nodes="httpRequest splitOut filter emailSend", absent="shopify"),
    case("كل يوم على الساعة 18 أرسل لي تقرير المبيعات في تيليجرام", "ar", "sales", "scheduleTrigger",
         cron="0 18 * * *", intents="daily_sales_report", nodes="shopify summarize telegram"),
    case("Send me every invoice paid by CCP or BaridiMob to a Google Sheet", "en", "finance", "webhook",
         intents="invoicing", nodes="code googleSheets"),
    case("Daily at 7:30, post the number of WooCommerce orders of yesterday in #ventes on Slack", "en",
         "sales", "scheduleTrigger", cron="30 7 * * *", intents="daily_sales_report",
         nodes="wooCommerce summarize slack"),
    case("b3ath l Yalidine les colis ta3 les commandes mkhalsin kol nhar 3la 10h", "darija",
         "sales logistics", "scheduleTrigger", cron="0 10 * * *",
         intents="notify_courier_for_paid_orders", nodes="shopify filter httpRequest"),
    case("Préviens-moi sur Telegram quand une commande Shopify est payée", "fr", "sales", "shopifyTrigger",
         intents="new_order_alert", nodes="telegram"),
    case("Every hour, check the ZR Express parcels that are not delivered and alert me on Slack", "en",
         "logistics", "scheduleTrigger", cron="0 * * * *", intents="shipment_tracking",
         nodes="httpRequest splitOut filter slack"),
    case("كل شهر أرسل لي ملخص المدفوعات عبر بريدي موب بالبريد الإلكتروني", "ar", "finance",
         "scheduleTrigger", cron="0 8 1 * *", intents="payment_reconciliation", nodes="code emailSend"),
    # The customers who pay are a finance matter, not a sales one; alone, they are the store's.
    case("كل يوم على الساعة 20 أرسل لي على واتساب مجموع المبالغ التي دفعها الزبائن عن طريق بريدي موب", "ar",
         "finance", "scheduleTrigger", cron="0 20 * * *", intents="payment_reconciliation",
         nodes="code whatsApp", absent="summarize"),
    case("Chaque soir à 20h, envoie-moi sur WhatsApp le total des paiements des clients par BaridiMob", "fr",
         "finance", "scheduleTrigger", cron="0 20 * * *", intents="payment_reconciliation",
         nodes="code whatsApp", absent="summarize"),
    case("Every evening at 8pm, send me on WhatsApp the total the customers paid by BaridiMob", "en",
         "finance", "scheduleTrigger", cron="0 20 * * *", intents="payment_reconciliation",
         nodes="code whatsApp", absent="summarize"),
    case("kol lila 3la 20h ab3athli f whatsapp total ta3 lkhlas ta3 les clients b BaridiMob", "darija",
         "finance", "scheduleTrigger", cron="0 20 * * *", intents="payment_reconciliation",
         nodes="code whatsApp", absent="summarize"),
    case("Chaque matin envoie-moi le nombre de clients sur Slack", "fr", "sales", "scheduleTrigger",
         cron="0 8 * * *", intents="daily_sales_report", nodes="summarize slack"),
    case("Chaque matin à 8h30, exporte les commandes WooCommerce d'hier dans Google Sheets", "fr", "sales",
         "scheduleTrigger", cron="30 8 * * *", nodes="wooCommerce googleSheets", absent="summarize"),
    case("kol simana ab3athli rapport ta3 lventes f mail", "darija", "sales", "scheduleTrigger",
         cron="0 8 * * 1", intents="weekly_sales_report", nodes="summarize emailSend"),
    case("أرسل تقرير المبيعات الأسبوعي كل يوم اثنين على سلاك", "ar", "sales", "scheduleTrigger",
         cron="0 8 * * 1", intents="weekly_sales_report", nodes="summarize slack"),
    case("dir li total ta3 les paiements baridimob kol lil f telegram", "darija", "finance",
         "scheduleTrigger", cron="0 20 * * *", intents="payment_reconciliation", nodes="code telegram"),
)  # fmt: skip

UNCLEAR: Final = (
    "Bonjour, comment ça va ?",
    "The average basket is 3700 DA this week, up 8 %.",
    "مرحبا",
    "salam khoya, labas?",
)
