"""The aikpi contract: every span attribute key, value word and event name in one place.

The SDK writes these names and the collector reads them; the collector imports this module
and nothing else from the SDK. Names are fixed by ``docs/semantic-conventions.md``: user
code, dashboards and alert rules rely on them, so change them only with a version bump.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = (
    "BAGGAGE_KEYS",
    "BAGGAGE_SIGNATURE",
    "COHORT",
    "CORRECTION_SECONDS",
    "CORRELATION_ID",
    "COST_USD",
    "EVALUATION_NAME_OUTCOME",
    "GEN_AI_EVALUATION_NAME",
    "GEN_AI_EVALUATION_RESULT",
    "GEN_AI_EVALUATION_SCORE_LABEL",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_PREFIX",
    "LEGACY_CACHE_CREATION_INPUT_TOKENS",
    "LEGACY_CACHE_READ_INPUT_TOKENS",
    "LEGACY_COMPLETION_TOKENS",
    "LEGACY_PROMPT_TOKENS",
    "MAX_NAME_LENGTH",
    "OPENINFERENCE_AI_SPAN_KINDS",
    "OPENINFERENCE_SPAN_KIND",
    "OUTCOME",
    "POLICY_NAME",
    "POLICY_VIOLATION_EVENT",
    "REVIEW_SECONDS",
    "SPAN_TYPE",
    "STEP_ASSISTED",
    "STEP_NAME",
    "TEAM",
    "WORKFLOW_EVENT",
    "WORKFLOW_NAME",
    "WORKFLOW_STATUS",
    "Cohort",
    "Outcome",
    "SpanType",
    "WorkflowEvent",
    "WorkflowStatus",
)

# --- own attributes (prefix ``aikpi.``) -------------------------------------------------

SPAN_TYPE = "aikpi.span.type"
"""What an aikpi span records: one of :class:`SpanType`."""

CORRELATION_ID = "aikpi.correlation_id"
"""Business join key of one workflow run (ticket id, PR number, or a generated id)."""

WORKFLOW_NAME = "aikpi.workflow.name"
"""Name of the workflow, e.g. ``incident-triage``; a bounded set."""

STEP_NAME = "aikpi.step.name"
"""Name of the step inside the workflow, e.g. ``draft-reply``; a bounded set."""

STEP_ASSISTED = "aikpi.step.assisted"
"""Bool on step spans: ``True`` when AI output was produced in the step (an LLM call, a GenAI
span inside it, an outcome or an outcome token), ``False`` for a human-only step."""

COHORT = "aikpi.cohort"
"""Experiment arm: one of :class:`Cohort`."""

TEAM = "aikpi.team"
"""Optional segment (team, role, shift); a bounded set."""

WORKFLOW_STATUS = "aikpi.workflow.status"
"""How a workflow run ended: one of :class:`WorkflowStatus`."""

WORKFLOW_EVENT = "aikpi.workflow.event"
"""A later event on a finished run: one of :class:`WorkflowEvent`."""

OUTCOME = "aikpi.outcome"
"""The human decision on the AI output: one of :class:`Outcome`."""

CORRECTION_SECONDS = "aikpi.correction.seconds"
"""Human time spent repairing the AI output, seconds (double >= 0)."""

REVIEW_SECONDS = "aikpi.review.seconds"
"""Time from the AI output to the human decision, seconds (double >= 0)."""

COST_USD = "aikpi.cost.usd"
"""Explicit cost in US dollars (double >= 0); wins over any price-table cost."""

POLICY_VIOLATION_EVENT = "aikpi.policy.violation"
"""Name of the span event that records one governance violation."""

POLICY_NAME = "aikpi.policy.name"
"""Attribute of the violation event: which policy was violated (a bounded set)."""

MAX_NAME_LENGTH = 128
"""Longest workflow, step, team, policy or model name accepted (characters)."""

BAGGAGE_KEYS = (CORRELATION_ID, WORKFLOW_NAME, STEP_NAME, COHORT, TEAM)
"""Keys the SDK puts into OTel baggage; they are stamped onto every span started inside."""

BAGGAGE_SIGNATURE = "aikpi.signature"
"""Baggage entry ``v1.<base64url HMAC-SHA256>`` over the BAGGAGE_KEYS values (shared key)."""

# --- OpenTelemetry GenAI semantic conventions (``gen_ai.*``) -------------------------------

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
"""GenAI operation, e.g. ``chat``."""

GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
"""GenAI provider, e.g. ``openai``, ``anthropic``."""

GEN_AI_SYSTEM = "gen_ai.system"
"""Deprecated spelling of the provider, still emitted by many GenAI instrumentations."""

GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
"""Model the application asked for."""

GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
"""Model that answered (preferred over the request model when present)."""

GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
"""Input tokens, including any cached part (GenAI semconv)."""

GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
"""Output tokens."""

GEN_AI_USAGE_PREFIX = "gen_ai.usage."
"""Prefix of every GenAI usage attribute; a span with one produced model output."""

GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from the provider's prompt cache."""

GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
"""Input tokens written into the provider's prompt cache."""

LEGACY_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read_input_tokens"
"""Older spelling of the cache-read count, still emitted by some instrumentations."""

LEGACY_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation_input_tokens"
"""Older spelling of the cache-creation count, still emitted by some instrumentations."""

LEGACY_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
"""Older spelling of the input-token count."""

LEGACY_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
"""Older spelling of the output-token count."""

GEN_AI_EVALUATION_RESULT = "gen_ai.evaluation.result"
"""GenAI semconv event name; aikpi writes each human outcome as one, too."""

GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
"""Evaluation name attribute of that event (aikpi uses :data:`EVALUATION_NAME_OUTCOME`)."""

GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
"""Evaluation label attribute of that event: the outcome word."""

EVALUATION_NAME_OUTCOME = OUTCOME
"""Value of ``gen_ai.evaluation.name`` for a human outcome."""

# --- OpenInference (Arize Phoenix, LlamaIndex, CrewAI, ...) -------------------------------

OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
"""OpenInference's span kind attribute (``LLM``, ``EMBEDDING``, ``CHAIN``, ``TOOL``...)."""

OPENINFERENCE_AI_SPAN_KINDS = frozenset({"LLM", "EMBEDDING"})
"""OpenInference span kinds whose span is a model call (AI output was produced)."""


# --- closed value sets ------------------------------------------------------------------


class SpanType(StrEnum):
    """What an aikpi span records."""

    WORKFLOW = "workflow"
    STEP = "step"
    OUTCOME = "outcome"
    WORKFLOW_EVENT = "workflow_event"


class Cohort(StrEnum):
    """Experiment arm of a workflow run."""

    AI_ASSISTED = "ai_assisted"
    BASELINE = "baseline"


class Outcome(StrEnum):
    """The human decision on one piece of AI output (closed set)."""

    ACCEPTED = "accepted"
    """Used as-is."""
    EDITED = "edited"
    """Used after human repair."""
    OVERRIDDEN = "overridden"
    """Discarded; a human did the work instead."""
    ESCALATED = "escalated"
    """Handed to a higher tier."""
    REJECTED = "rejected"
    """Discarded; the task was not done."""


class WorkflowStatus(StrEnum):
    """How a workflow run ended."""

    COMPLETED = "completed"
    ABANDONED = "abandoned"
    FAILED = "failed"


class WorkflowEvent(StrEnum):
    """A later event on a finished workflow run."""

    REOPENED = "reopened"
