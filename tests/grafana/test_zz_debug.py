from test_e2e_prometheus import stack  # noqa: F401
import json

def test_dbg(stack):
    p = stack.replicas
    for q in ['workflow_cohort:aikpi_outcomes:rate1h', 'workflow_cohort_outcome:aikpi_outcomes:rate1h',
              'sum by (workflow, cohort) (workflow_cohort_outcome:aikpi_outcomes:rate1h{outcome=~"accepted|edited"})',
              'workflow_cohort:aikpi_acceptance:ratio_rate1h', 'slo:sli_error:ratio_rate5m', 'slo:sli_eligible_events:increase5m',
              'sum by (workflow) (rate(aikpi_outcomes_total{cohort="ai_assisted"}[5m]))']:
        print(q, json.dumps(p.query(q))[:600])
    for g in p.api("rules")["groups"]:
        for r in g["rules"][:3]:
            print(r["name"], r["health"], r.get("lastError"), r.get("evaluationTime"))
