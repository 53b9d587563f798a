"""The deployer's pure rules: the n8n copy's name finds it again; a model's credential ids never reach n8n."""

from __future__ import annotations

from handlers.managers.deployer import MAX_NAME, marker, n8n_name, without_credentials

WORKFLOW_ID = "0b6f1f3e-5d1c-5a53-9a3e-2f61c1b2c3d4"


def test_the_n8n_name_keeps_the_designers_name_and_ends_with_the_key_that_finds_it() -> None:
    assert n8n_name("Rapport des ventes", WORKFLOW_ID) == "Rapport des ventes (aiwf 0b6f1f3e-5d1c)"
    assert n8n_name("Rapport des ventes", WORKFLOW_ID).endswith(marker(WORKFLOW_ID))


def test_a_long_name_is_cut_so_that_the_key_still_fits_in_n8n_s_limit() -> None:
    named = n8n_name("x" * 300, WORKFLOW_ID)

    assert len(named) == MAX_NAME
    assert named.endswith(marker(WORKFLOW_ID))


def test_credential_links_a_designer_wrote_are_dropped_and_nothing_else_is() -> None:
    document = {
        "name": "w",
        "nodes": [
            {
                "name": "Slack",
                "type": "n8n-nodes-base.slack",
                "credentials": {"slackApi": {"id": "invented"}},
            },
            {"name": "Every day", "type": "n8n-nodes-base.scheduleTrigger", "parameters": {}},
        ],
        "connections": {},
    }

    stripped = without_credentials(document)

    assert stripped["nodes"] == [
        {"name": "Slack", "type": "n8n-nodes-base.slack"},
        {"name": "Every day", "type": "n8n-nodes-base.scheduleTrigger", "parameters": {}},
    ]
    assert document["nodes"][0]["credentials"] == {"slackApi": {"id": "invented"}}  # the draft is kept as is
