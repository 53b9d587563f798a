"""What each agent role must answer: the structured-output contracts of the gateway.

The JSON Schema of each Struct is sent to the provider (forced tool input or json_schema output),
and the answer is decoded back into the same Struct before it is recorded, so a model that drifts
from the contract yields an `invalid_output` event instead of a surprise downstream.

Nothing here becomes an event field directly: the answer is stored as JSON text in
`InferenceDecided.output`. That is why `typeVersion` may be a float (n8n has 1.2, 2.1, ...), while
confidences stay integer percentages because they are copied into `IntentClassified`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

import msgspec

from domain.types import AgentRole

Text = Annotated[str, msgspec.Meta(min_length=1)]
Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Specialist = Literal["sales", "logistics", "finance"]


class _Contract(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Unknown keys are refused: the schema then says `additionalProperties: false`."""


# --- orchestrator ------------------------------------------------------------------------------


class PlannedIntent(_Contract, frozen=True, kw_only=True):
    name: Text  # snake_case, e.g. "daily_sales_report"
    confidence: Percent
    agents: tuple[Specialist, ...]


class AgentTask(_Contract, frozen=True, kw_only=True):
    agent: Specialist
    task: Text  # what that specialist must find out, in English


Language = Literal["fr", "ar", "darija", "en"]


class OrchestratorPlan(_Contract, frozen=True, kw_only=True, omit_defaults=True):
    intents: tuple[PlannedIntent, ...]
    summary: Text
    tasks: tuple[AgentTask, ...]
    language: Language = "en"  # the user's, so that replies are written in it
    reply: str = ""  # with no tasks: the answer (small talk, help) or the question to ask
    question: bool = False  # the reply asks for a missing detail; the next message continues


# --- sales / logistics / finance --------------------------------------------------------------


class FindingFact(_Contract, frozen=True, kw_only=True):
    key: Text
    value: str


class AgentFindingOutput(_Contract, frozen=True, kw_only=True, omit_defaults=True):
    summary: Text
    facts: tuple[FindingFact, ...]
    n8n_nodes: tuple[Text, ...]  # n8n node type names, e.g. "n8n-nodes-base.shopifyTrigger"
    sensitive_fields: tuple[Text, ...] = ()  # e.g. "customer CCP number": data that must stay local


# --- designer: an n8n workflow as its public API accepts it -------------------------------------


class CredentialRef(_Contract, frozen=True, kw_only=True):
    id: str
    name: str


class WorkflowNode(_Contract, frozen=True, kw_only=True, omit_defaults=True):
    id: Text
    name: Text
    type: Text
    typeVersion: int | float  # noqa: N815 - n8n's own field name
    position: tuple[int, int]
    parameters: dict[str, Any]
    credentials: dict[str, CredentialRef] | None = None
    webhookId: str | None = None  # noqa: N815 - with it a Webhook listens on /webhook/<path>


class ConnectionTarget(_Contract, frozen=True, kw_only=True):
    node: Text  # the target node's NAME: n8n keys connections by name, not id
    type: Literal["main"] = "main"
    index: int = 0


# node name -> {"main": [output 0 targets, output 1 targets, ...]}
Connections = dict[str, dict[Literal["main"], tuple[tuple[ConnectionTarget, ...], ...]]]


class WorkflowSettings(_Contract, frozen=True, kw_only=True, omit_defaults=True):
    executionOrder: Literal["v1"]  # noqa: N815
    timezone: str | None = None  # n8n defaults to America/New_York: schedules need Africa/Algiers


class WorkflowDesign(_Contract, frozen=True, kw_only=True):
    name: Text
    nodes: tuple[WorkflowNode, ...]
    connections: Connections
    settings: WorkflowSettings


RoleOutput = OrchestratorPlan | AgentFindingOutput | WorkflowDesign
RoleOutputType = type[OrchestratorPlan] | type[AgentFindingOutput] | type[WorkflowDesign]

_OUTPUT_TYPES: Final[Mapping[AgentRole, RoleOutputType]] = MappingProxyType(
    {
        AgentRole.ORCHESTRATOR: OrchestratorPlan,
        AgentRole.SALES: AgentFindingOutput,
        AgentRole.LOGISTICS: AgentFindingOutput,
        AgentRole.FINANCE: AgentFindingOutput,
        AgentRole.DESIGNER: WorkflowDesign,
    }
)
# The tool / json_schema name the provider is asked to fill.
_OUTPUT_NAMES: Final[Mapping[AgentRole, str]] = MappingProxyType(
    {
        AgentRole.ORCHESTRATOR: "orchestrator_plan",
        AgentRole.SALES: "agent_finding",
        AgentRole.LOGISTICS: "agent_finding",
        AgentRole.FINANCE: "agent_finding",
        AgentRole.DESIGNER: "workflow_design",
    }
)


def output_type(role: AgentRole) -> RoleOutputType:
    return _OUTPUT_TYPES[role]


def output_name(role: AgentRole) -> str:
    return _OUTPUT_NAMES[role]


@functools.cache
def schema_for(role: AgentRole) -> bytes:
    """The JSON Schema of what `role` must answer, an object schema at the top. Made once per role: it is a
    function of the role's Struct alone, and building it took a tenth of a process manager's CPU.

    msgspec puts the root under `$defs` behind a top-level `$ref`; Anthropic's tool `input_schema`
    requires `"type": "object"` at the top, so the root is lifted out and `$defs` keeps the rest.
    """
    schema = msgspec.json.schema(_OUTPUT_TYPES[role])
    definitions = dict(schema["$defs"])
    root = dict(definitions.pop(str(schema["$ref"]).rsplit("/", 1)[-1]))
    if definitions:
        root["$defs"] = definitions
    return msgspec.json.encode(root)


def decode_output(role: AgentRole, document: bytes) -> RoleOutput:
    """The answer as its Struct; raises msgspec.ValidationError / DecodeError when it is not one."""
    answer: RoleOutput = msgspec.json.decode(document, type=_OUTPUT_TYPES[role])
    return answer
