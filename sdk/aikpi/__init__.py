"""aikpi: instrument AI-assisted workflows so their KPIs can be proven in production.

Wrap a workflow and its steps, record the human decision on each AI output, and every span
(yours and your GenAI libraries') carries the correlation id and dimensions the aikpi
collector turns into KPIs. See ``docs/semantic-conventions.md``.
"""

from aikpi._cohort import assign_cohort
from aikpi._config import configure
from aikpi._outcomes import record_outcome, reopen
from aikpi._propagation import continue_from, extract, inject
from aikpi._runs import LlmCall, StepRun, WorkflowRun, current_step, current_workflow
from aikpi._scopes import StepScope, WorkflowScope, step, workflow
from aikpi._tokens import TokenError, UnsignedTokenWarning
from aikpi._version import __version__
from aikpi.semconv import Cohort, Outcome

__all__ = (
    "Cohort",
    "LlmCall",
    "Outcome",
    "StepRun",
    "StepScope",
    "TokenError",
    "UnsignedTokenWarning",
    "WorkflowRun",
    "WorkflowScope",
    "__version__",
    "assign_cohort",
    "configure",
    "continue_from",
    "current_step",
    "current_workflow",
    "extract",
    "inject",
    "record_outcome",
    "reopen",
    "step",
    "workflow",
)
