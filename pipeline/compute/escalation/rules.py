"""The tier rules, evaluated for one incident after each change (see ``policy``'s table).

Window rules look at the incident's negatives within the window that ends at
the community watermark; term and heat rules look at the whole incident.
Each hit carries the tier it justifies and its reason in plain words
(中文 / English) for moderators.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pipeline.compute.escalation.community import CommunityState
from pipeline.compute.escalation.incident import Incident
from pipeline.compute.escalation.policy import EscalationPolicy
from schemas.alerts import Tier


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    tier: Tier
    text: str


def _join(terms: list[str] | tuple[str, ...]) -> str:
    return ", ".join(terms)


def evaluate(state: CommunityState, incident: Incident, policy: EscalationPolicy) -> list[Hit]:
    """Every rule the incident meets now; the highest tier among them is its floor."""
    wm = state.watermark_ms
    minutes = policy.cluster_window_minutes
    cluster_from = wm - int(policy.cluster_window.total_seconds() * 1000)
    burst_from = wm - int(policy.burst_window.total_seconds() * 1000)
    mine = [r for r in state.recent if r.incident_id == incident.incident_id]
    window = [r for r in mine if r.ts_ms > cluster_from]
    hits = [Hit("negative", "mild", "成员负面反馈 / negative feedback from a member")]

    complaint_terms = list(dict.fromkeys(t for r in window for t in r.complaint_terms))
    complainers = {r.member_ref for r in window if r.complaint_terms}
    if complaint_terms:
        if max(len(complaint_terms), len(complainers)) >= policy.complaint_moderate:
            hits.append(Hit("complaint", "moderate",
                            f"投诉词: {_join(complaint_terms)}（{len(complainers)} 位成员）"
                            f" / complaint terms from {len(complainers)} member(s)"))
        else:
            hits.append(Hit("complaint", "mild",
                            f"投诉词: {_join(complaint_terms)} / complaint term"))

    per_member = Counter(r.member_ref for r in window)
    most = max(per_member.values(), default=0)
    if most >= policy.repeat_negatives:
        hits.append(Hit("repeat", "moderate",
                        f"同一成员 {minutes} 分钟内 {most} 条负面"
                        f" / one member posted {most} negatives within {minutes} min"))

    members = len(per_member)
    with_support = len(set(per_member) | _supporting_members(state, incident, cluster_from))
    if members >= policy.severe_members:
        hits.append(Hit("cluster", "severe", f"{members} 位成员 {minutes} 分钟内负面"
                        f" / {members} members negative within {minutes} min"))
    elif with_support >= policy.moderate_members:
        hits.append(Hit("cluster", "moderate", f"{with_support} 位成员 {minutes} 分钟内负面"
                        f" / {with_support} members negative within {minutes} min"))

    crisis = [t for t in incident.alert.matched_terms if t in policy.crisis_terms]
    if crisis:
        hits.append(Hit("crisis", "severe", f"危机词: {_join(crisis)} / crisis terms"))

    burst = [r for r in mine if r.ts_ms > burst_from]
    threshold = max(policy.burst_min_negatives, policy.burst_factor * state.baseline.ewma)
    if (len(burst) >= threshold
            and len({r.member_ref for r in burst}) >= policy.burst_min_members):
        w, base = policy.burst_window_minutes, state.baseline.ewma
        hits.append(Hit("burst", "severe",
                        f"负面激增: {w} 分钟内 {len(burst)} 条，基线 {base:.1f}"
                        f" / surge: {len(burst)} negatives in {w} min vs baseline {base:.1f}"))

    heat = incident.alert.heat
    if heat >= policy.heat_severe:
        hits.append(Hit("heat", "severe",
                        f"热度 {heat}（回复与@）/ heat {heat} (replies and @mentions)"))
    return hits


def _supporting_members(state: CommunityState, incident: Incident, since_ms: int) -> set[str]:
    """Members whose probably-negative messages corroborate the current incident: a
    complaint said in other words by others is part of the same cluster."""
    if state.current_id != incident.incident_id:
        return set()
    return {r.member_ref for r in state.recent if r.supporting and r.ts_ms > since_ms}


def spread_reason(communities: int, terms: list[str]) -> Hit:
    shared = f": {_join(terms)}" if terms else ""
    return Hit("spread", "severe",
               f"扩散至 {communities} 个社群{shared} / spread to {communities} communities")
