"""Nodes that deliver a result: Slack, e-mail, Telegram, WhatsApp, Google Sheets (n8n 2.8 typeVersions).

Recipients are placeholders (`SET_...`) a person fills in when approving the workflow: the offline
designer never copies an address or a number out of the conversation into a workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from inference.offline_lexicon import Channel
from inference.offline_nodes import NodeSpec

Parameters = dict[str, Any]


class Message:
    """What every channel node needs: the text (an n8n expression), a subject, the Slack channel."""

    def __init__(self, text: str, *, subject: str, slack_channel: str | None) -> None:
        self.text = text
        self.subject = subject
        self.slack_channel = slack_channel or "general"


def _slack(message: Message) -> Parameters:
    target = {"__rl": True, "mode": "name", "value": f"#{message.slack_channel}"}
    return {
        "resource": "message",
        "operation": "post",
        "select": "channel",
        "channelId": target,
        "text": message.text,
        "otherOptions": {},
    }


def _email(message: Message) -> Parameters:
    return {
        "fromEmail": "SET_SENDER_ADDRESS",
        "toEmail": "SET_RECIPIENT_ADDRESS",
        "subject": message.subject,
        "emailFormat": "text",
        "text": message.text,
        "options": {},
    }


def _telegram(message: Message) -> Parameters:
    return {
        "resource": "message",
        "operation": "sendMessage",
        "chatId": "SET_TELEGRAM_CHAT_ID",
        "text": message.text,
        "additionalFields": {},
    }


def _whatsapp(message: Message) -> Parameters:
    return {
        "resource": "message",
        "operation": "send",
        "phoneNumberId": "SET_WHATSAPP_SENDER_ID",
        "recipientPhoneNumber": "SET_RECIPIENT_NUMBER",
        "textBody": message.text,
        "additionalFields": {},
    }


def _google_sheets(message: Message) -> Parameters:
    del message  # a row is the item itself: the sheet's columns are mapped from its fields
    return {
        "resource": "sheet",
        "operation": "append",
        # By id: n8n checks a "url" value against the form of a Google Sheets address at activation.
        "documentId": {"__rl": True, "mode": "id", "value": "SET_GOOGLE_SHEET_ID"},
        "sheetName": {"__rl": True, "mode": "name", "value": "Sheet1"},
        "columns": {"mappingMode": "autoMapInputData", "value": {}, "matchingColumns": [], "schema": []},
        "options": {},
    }


# channel -> (node name, node type, typeVersion, parameters)
_CHANNEL_NODES: Final[dict[Channel, tuple[str, str, int | float, Callable[[Message], Parameters]]]] = {
    "slack": ("Post to Slack", "n8n-nodes-base.slack", 2.3, _slack),
    "email": ("Send E-mail", "n8n-nodes-base.emailSend", 2.1, _email),
    "telegram": ("Send Telegram", "n8n-nodes-base.telegram", 1.2, _telegram),
    "whatsapp": ("Send WhatsApp", "n8n-nodes-base.whatsApp", 1, _whatsapp),
    "google_sheets": ("Append to Google Sheets", "n8n-nodes-base.googleSheets", 4.7, _google_sheets),
}


def deliver(channel: Channel, message: Message) -> NodeSpec:
    name, node_type, version, parameters = _CHANNEL_NODES[channel]
    return NodeSpec(name=name, type=node_type, version=version, parameters=parameters(message))
