"""The designer, once every delegation of a turn has its finding: an n8n workflow from the request and the
findings, checked by the validator (domain/n8n), repaired at most `MAX_REPAIRS` times with the
validator's messages, then a reply that says what the workflow does and that it awaits approval. On a
person's rejection (with its reason), the same for the workflow's next revision.

Every draft is a revision of the conversation's one workflow (`WorkflowDrafted` and its verdict,
appended together), so the log shows what was refused and why; a later turn drafts the next revision.
A design reads the turns and, after a rejection, the person's reason: both count in what it derives from
(the model it may go to, and how sealed the draft and its reply are, handlers/managers/drafts.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from commands.context import CommandContext
from commands.conversations import stream_of as conversation_stream
from commands.execute import load
from commands.workflows import WORKFLOWS, approve_workflow
from commands.workflows import stream_of as workflow_stream
from domain.conversation_process import ConversationProcess, Decision, Turn
from domain.envelope import Envelope
from domain.ids import derived_id
from domain.n8n.report import Problem, ValidationReport
from domain.n8n.validation import validate
from domain.types import AgentRole, Sensitivity
from domain.workflow import Workflow
from domain.workflow_events import (
    ValidationProblem,
    WorkflowDrafted,
    WorkflowRejected,
    WorkflowValidated,
    WorkflowValidationFailed,
)
from handlers.managers import replies
from handlers.managers.drafts import Draft, examine
from handlers.managers.steps import (
    ManagerDeps,
    ReplyKind,
    append,
    decide_with_retry,
    load_process,
    new_event,
    opened,
    reply_event,
    step_id,
    unanswered,
)
from inference.gateway import GatewayCall
from inference.operator import DEADLINE_S, MAX_TOKENS
from inference.provider import ChatMessage
from infra.tracing import current_traceparent, inner_span

STEP = "designer"
MAX_REPAIRS = 3
AUTO_APPROVER = "auto-approve"


FINDING = "aiwf.conversation.agent_finding_recorded.v1"
REJECTED = "aiwf.workflow.rejected.v1"


def handles(envelope: Envelope) -> bool:
    return envelope.type in (FINDING, REJECTED)


async def on_event(deps: ManagerDeps, cause: Envelope) -> None:
    if cause.type == REJECTED:
        await on_rejected(deps, cause)
    else:
        await on_finding(deps, cause)


def workflow_of(conversation_id: str) -> str:
    """A conversation has one workflow; each turn that asks for a change drafts its next revision."""
    return derived_id("workflow", conversation_id)


async def on_finding(deps: ManagerDeps, cause: Envelope) -> None:
    state = (await load_process(deps, cause.stream)).state
    turn = state.turn_of_delegation(getattr(cause.data, "delegation_id", ""))
    if turn is None or not turn.answered or turn.reply is not None or state.closed:
        return  # still waiting for a specialist, answered already, or the user closed the conversation
    # Keyed by the turn, not by the finding that completed it: reached again through another finding,
    # the same turn redoes the very same steps.
    await TurnDesign(deps, cause, state, turn, key=turn.message_id, stream=cause.stream).run()


async def on_rejected(deps: ManagerDeps, cause: Envelope) -> None:
    """The next revision, from the conversation the workflow came from and the person's reason."""
    rejection = (await opened(deps, cause)).data
    assert isinstance(rejection, WorkflowRejected)
    workflow = (await load(deps.store, WORKFLOWS, cause.stream)).state
    if not isinstance(workflow, Workflow) or workflow.revision != rejection.revision:
        return  # revised already (or not ours)
    stream = conversation_stream(workflow.conversation_id)
    state = (await load_process(deps, stream)).state
    turn = next((t for t in reversed(state.turns) if t.workflow_id == workflow.workflow_id), None)
    if turn is None or state.closed:
        return  # the conversation moved on past the turns a revision could start from
    feedback = f"The person rejected revision {rejection.revision}" + (
        f": {rejection.reason}" if rejection.reason.strip() else " without saying why"
    )
    design = TurnDesign(
        deps,
        cause,
        state,
        turn,
        key=cause.id,
        stream=stream,
        feedback=feedback,
        feedback_sensitivity=rejection.sensitivity,
    )
    await design.run()


@dataclass(frozen=True)
class TurnDesign:
    """Designing for one turn: `key` is what every id of its steps derives from, `stream` the
    conversation it records its model calls and its reply in."""

    deps: ManagerDeps
    cause: Envelope
    state: ConversationProcess
    turn: Turn
    key: str
    stream: str
    feedback: str | None = None
    feedback_sensitivity: Sensitivity = Sensitivity.PUBLIC  # of the person's reason in `feedback`

    @property
    def workflow_id(self) -> str:
        return self.state.workflow_id or workflow_of(self.state.conversation_id)

    def id(self, *parts: str) -> str:
        return step_id(self.key, STEP, *parts)

    @property
    def turns(self) -> tuple[Turn, ...]:
        """What the design reads: the turns before this one, then this one."""
        return (*self.state.earlier_turns(self.turn.message_id), self.turn)

    @property
    def derived_from(self) -> Sensitivity:
        """The class of all it reads: the turns, and a person's reason when it answers a rejection."""
        levels = (*(t.sensitivity for t in self.turns), self.feedback_sensitivity)
        return max(levels, key=lambda s: s.rank)

    async def run(self) -> None:
        problems: tuple[Problem, ...] = ()
        for round_ in range(MAX_REPAIRS + 1):
            decision = await decide_with_retry(
                self.deps, self.cause, self.state, self._caller(problems, round_), self.stream
            )
            if decision.outcome != "ok":
                await self._reply_without_workflow(decision)
                return
            draft = examine(decision.output, self.derived_from, self.deps.catalog)
            with inner_span("validate workflow", {"aiwf.workflow.id": self.workflow_id}) as span:
                report = draft.checked(validate(decision.output, self.deps.catalog))
                span.set_attributes({"aiwf.workflow.valid": report.valid, "aiwf.repair_round": round_})
            revision = await self._record_draft(decision, report, draft, round_)
            workflow = (self.workflow_id, revision)
            if report.valid:
                n8n = self.deps.catalog.n8n_version
                text = replies.workflow_ready(self.turn.language, decision.output, revision, n8n)
                await self._reply((text, "workflow"), decision, workflow, draft.sensitivity)
                if self.deps.auto_approve:
                    await self._approve(revision, decision)
                return
            problems = tuple(p for p in report.problems if p.severity == "error")
        text = replies.workflow_invalid(self.turn.language, decision.output, revision, report, MAX_REPAIRS)
        await self._reply((text, "failure"), decision, workflow, draft.sensitivity)

    def _caller(self, problems: tuple[Problem, ...], round_: int) -> Callable[[str], GatewayCall]:
        return lambda attempt: self._call(problems, round_, attempt)

    def _call(self, problems: tuple[Problem, ...], round_: int, attempt: str) -> GatewayCall:
        turns = self.turns
        findings = tuple(
            msgspec.json.encode(
                {"agent": d.agent.value, "summary": d.summary, "facts": d.facts, "n8n_nodes": d.n8n_nodes}
            ).decode()
            for t in turns
            for d in t.delegations
            if d.answered
        )
        extra = findings if self.feedback is None else (*findings, self.feedback)
        if problems:
            fixes = "\n".join(f"- {p.code} ({p.node or 'workflow'}): {p.message}" for p in problems)
            extra = (*extra, f"The validator refused the previous draft. Fix every problem:\n{fixes}")
        return GatewayCall(
            inference_id=self.id("inference", str(round_), attempt),
            purpose=AgentRole.DESIGNER,
            messages=(ChatMessage(role="user", content="\n".join(t.text for t in turns)),),
            extra_texts=extra,
            max_tokens=MAX_TOKENS[AgentRole.DESIGNER],
            deadline_s=DEADLINE_S,
            derived_from=self.derived_from,
            now=self.deps.clock(),
        )

    async def _record_draft(
        self, decision: Decision, report: ValidationReport, draft: Draft, round_: int
    ) -> int:
        """The draft's revision: the one it already has when redone, else the workflow's next."""
        stream = workflow_stream(self.workflow_id)
        workflow = (await load(self.deps.store, WORKFLOWS, stream)).state
        drafted_by = workflow.drafted_by if isinstance(workflow, Workflow) else ()
        if decision.inference_id in drafted_by:
            return drafted_by.index(decision.inference_id) + 1
        revision = len(drafted_by) + 1
        drafted = WorkflowDrafted(
            workflow_id=self.workflow_id,
            conversation_id=self.state.conversation_id,
            revision=revision,
            name=draft.name,
            definition=decision.output,
            # of the plaintext here; the store's seal makes it the digest of the sealed string it stores
            definition_sha256=hashlib.sha256(decision.output.encode()).hexdigest(),
            # every model decision it came from, its own last (the SBOM lists them)
            inference_ids=(*(i for t in self.turns for i in t.inference_ids), decision.inference_id),
            sensitivity=draft.sensitivity,
            nodes=draft.nodes,
            drafted_at=decision.at,
        )
        events = [
            new_event(self.cause, self.id("draft", str(round_)), drafted, decision.at),
            new_event(
                self.cause,
                self.id("verdict", str(round_)),
                self._verdict(revision, report, draft, decision),
                decision.at,
            ),
        ]
        await append(self.deps, self.cause.tenant, stream, events)
        return revision

    def _verdict(
        self, revision: int, report: ValidationReport, draft: Draft, decision: Decision
    ) -> WorkflowValidated | WorkflowValidationFailed:
        """At the draft's sensitivity: a message may quote a parameter. A node is named as the outline
        names it, never by a name withheld."""
        problems = tuple(
            ValidationProblem(code=p.code, message=p.message, node=draft.shown(p.node), severity=p.severity)
            for p in report.problems
        )
        if report.valid:
            return WorkflowValidated(
                revision=revision,
                checks=report.checks,
                n8n_version=self.deps.catalog.n8n_version,
                warnings=problems,
                sensitivity=draft.sensitivity,
                validated_at=decision.at,
            )
        return WorkflowValidationFailed(
            revision=revision, problems=problems, sensitivity=draft.sensitivity, failed_at=decision.at
        )

    async def _reply_without_workflow(self, decision: Decision) -> None:
        said = unanswered(self.turn.language, decision, "the designer gave no usable workflow")
        await self._reply(said, decision, None, self.derived_from)

    async def _reply(
        self,
        said: tuple[str, ReplyKind],
        decision: Decision,
        workflow: tuple[str, int] | None,
        sensitivity: Sensitivity,
    ) -> None:
        """`sensitivity`: of the draft it tells of, else of what the design read."""
        event = reply_event(
            self.cause,
            self.id,
            self.turn.message_id,
            said,
            decision.at,
            sensitivity=sensitivity,
            workflow=workflow,
        )
        await append(self.deps, self.cause.tenant, self.stream, [event])

    async def _approve(self, revision: int, decision: Decision) -> None:
        """AIWF_AUTO_APPROVE (the demo): the platform approves what it drafted, as a person would."""
        ctx = CommandContext(
            tenant=self.cause.tenant,
            actor=AUTO_APPROVER,
            now=decision.at,
            source="aiwf://agents",
            correlation_id=self.cause.correlationid,
            causation_id=self.cause.id,
            traceparent=current_traceparent(self.cause.traceparent),
            idempotency_key=self.id("approve"),
        )
        await approve_workflow(self.deps.store, ctx, self.workflow_id, revision)
