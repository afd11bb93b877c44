"""Brute-force community health, written apart from the streaming code.

Input: the valid events in delivery order as plain dicts.  Acceptance is the
documented rule (docs/metrics.md): an event counts for its hour (and day)
unless, when it arrives, the highest event time already accepted from its
topic-partition is at least its hour's end plus the lateness.  Everything else is
computed from scratch over the accepted events: no windows, no state, no
revisions.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.compute.hot_words import message_terms
from pipeline.compute.interaction import copy_key, is_mechanical

HOUR = 3_600_000


def accepted_events(events: list[dict], lateness_ms: int) -> tuple[list[dict], int]:
    """(distinct accepted events, number too late); (topic, partition) keys the watermark."""
    watermark: dict[object, int] = defaultdict(int)
    seen: set[str] = set()
    accepted, too_late = [], 0
    for e in events:
        hour_end = e["ts"] - e["ts"] % HOUR + HOUR
        source = (e["topic"], e["partition"])
        if hour_end + lateness_ms <= watermark[source]:
            too_late += 1
            continue
        if e["id"] in seen:
            continue
        seen.add(e["id"])
        accepted.append(e)
        watermark[source] = max(watermark[source], e["ts"])
    return accepted, too_late


def day_of(ts_ms: int, zone: str) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(ZoneInfo(zone)).date()


def classify(messages: list[dict], copy_window_ms: int) -> dict[str, str]:
    """message id -> system / mechanical / copy / real (members) or staff (others)."""
    kinds: dict[str, str] = {}
    by_hour: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for m in messages:
        by_hour[(m["community_id"], m["ts"] // HOUR)].append(m)
    for group in by_hour.values():
        last_seen: dict[str, int] = {}
        for m in sorted(group, key=lambda m: (m["ts"], m["id"])):
            if m["msg_type"] == "system":
                kinds[m["id"]] = "system"
                continue
            mechanical = m["msg_type"] == "sticker" or (
                m["msg_type"] == "text" and is_mechanical(m["text"]))
            key = copy_key(m["text"]) if m["msg_type"] == "text" and not mechanical else ""
            copied = False
            if key:
                copied = key in last_seen and m["ts"] - last_seen[key] <= copy_window_ms
                last_seen[key] = m["ts"]
            if m["sender_role"] != "member":
                kinds[m["id"]] = "staff"
            else:
                kinds[m["id"]] = "mechanical" if mechanical else "copy" if copied else "real"
    return kinds


def membership_counts(changes: list[dict]) -> dict[tuple[str, int], tuple[int, str, int]]:
    """(community, hour start) -> (member count at the hour's end, anchor, conflicts so far)
    for each hour with a change; the rules of docs/metrics.md applied in time order."""
    out = {}
    by_community: dict[str, list[dict]] = defaultdict(list)
    for c in changes:
        by_community[c["community_id"]].append(c)
    for community, items in by_community.items():
        present: set[str] = set()
        absent: set[str] = set()
        unknown_left, conflicts, anchor = 0, 0, "relative"
        for c in sorted(items, key=lambda c: (c["ts"], c["id"])):
            if c["action"] == "snapshot":
                listed = set(c["member_ids"])
                absent |= present - listed
                absent -= listed
                present, unknown_left, anchor = listed, 0, "snapshot"
            elif c["action"] == "join":
                if c["member_id"] in present:
                    conflicts += 1
                else:
                    present.add(c["member_id"])
                    absent.discard(c["member_id"])
            elif c["member_id"] in present:
                present.discard(c["member_id"])
                absent.add(c["member_id"])
            elif c["member_id"] in absent or anchor == "snapshot":
                conflicts += 1
            else:
                unknown_left += 1
                absent.add(c["member_id"])
            out[(community, c["ts"] - c["ts"] % HOUR)] = (
                len(present) - unknown_left, anchor, conflicts)
    return out


def day_health(events: list[dict], lateness_ms: int, zone: str = "Asia/Shanghai",
               copy_window_ms: int = 600_000) -> dict[tuple[str, date], dict]:
    """(community, local day) -> the day's metrics, for every day with an accepted event."""
    accepted, _ = accepted_events(events, lateness_ms)
    messages = [e for e in accepted if e["topic"] == "chat"]
    changes = [e for e in accepted if e["topic"] in ("members", "snapshots")]
    kinds = classify(messages, copy_window_ms)
    active_days: dict[tuple[str, str], set[date]] = defaultdict(set)
    for m in messages:
        if kinds[m["id"]] == "real":
            active_days[(m["community_id"], m["member_id"])].add(day_of(m["ts"], zone))
    counts = membership_counts(changes)
    days: dict[tuple[str, date], dict] = {}
    for e in accepted:
        key = (e["community_id"], day_of(e["ts"], zone))
        days.setdefault(key, {"messages": 0, "interactions": 0, "real_interactions": 0,
                              "mechanical_messages": 0, "copy_messages": 0, "joins": 0,
                              "leaves": 0, "removals": 0, "speakers": set(), "dau": set(),
                              "staff_content": 0, "words": Counter(),
                              "polarity": Counter()})
        d = days[key]
        if e["topic"] == "chat":
            d["messages"] += 1
            kind = kinds[e["id"]]
            if kind == "staff":
                d["staff_content"] += 1
            if e["sender_role"] == "member" and kind != "system":
                d["interactions"] += 1
                d["speakers"].add(e["member_id"])
                d["mechanical_messages"] += kind == "mechanical"
                d["copy_messages"] += kind == "copy"
                if kind == "real":
                    d["real_interactions"] += 1
                    d["dau"].add(e["member_id"])
                if kind in ("real", "copy") and e["msg_type"] == "text" and e["text"]:
                    d["words"].update(message_terms(e["text"]))
        elif e["topic"] == "scores":
            d["polarity"][e["polarity"]] += 1
        elif e["action"] in ("join", "leave"):
            d[e["action"] + "s"] += 1
        elif e["action"] == "removed":
            d["removals"] += 1
    out = {}
    for (community, day), d in days.items():
        end = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)) + timedelta(days=1)
        end_ms = int(end.timestamp() * 1000)
        before = [(h, v) for (c, h), v in counts.items() if c == community and h < end_ms]
        member_count, anchor, conflicts = max(before)[1] if before else (0, "relative", 0)
        wau = {m for (c, m), ds in active_days.items() if c == community
               and any(0 <= (day - x).days < 7 for x in ds)}
        mau = {m for (c, m), ds in active_days.items() if c == community
               and any(0 <= (day - x).days < 30 for x in ds)}
        out[(community, day)] = {
            "messages": d["messages"], "interactions": d["interactions"],
            "real_interactions": d["real_interactions"],
            "mechanical_messages": d["mechanical_messages"],
            "copy_messages": d["copy_messages"], "speakers": len(d["speakers"]),
            "dau": len(d["dau"]), "wau": len(wau), "mau": len(mau), "joins": d["joins"],
            "leaves": d["leaves"], "removals": d["removals"], "member_count": member_count,
            "member_count_anchor": anchor, "membership_conflicts": conflicts,
            "ugc_messages": d["real_interactions"],
            "hot_words": sorted(d["words"].items(), key=lambda x: (-x[1], x[0]))[:20],
            "scored_messages": sum(d["polarity"].values()),
            "positive_messages": d["polarity"]["positive"],
            "negative_messages": d["polarity"]["negative"],
        }
    return out


def record_view(record) -> dict:
    """The oracle's fields of a CommunityDayHealth record."""
    return {
        "messages": record.messages, "interactions": record.interactions,
        "real_interactions": record.real_interactions,
        "mechanical_messages": record.mechanical_messages,
        "copy_messages": record.copy_messages, "speakers": record.speakers, "dau": record.dau,
        "wau": record.wau, "mau": record.mau, "joins": record.joins, "leaves": record.leaves,
        "removals": record.removals, "member_count": record.member_count,
        "member_count_anchor": record.member_count_anchor,
        "membership_conflicts": record.membership_conflicts,
        "ugc_messages": record.ugc_messages,
        "hot_words": [(w.word, w.count) for w in record.hot_words],
        "scored_messages": record.scored_messages,
        "positive_messages": record.positive_messages,
        "negative_messages": record.negative_messages,
    }


def hour_counts(events: list[dict], lateness_ms: int,
                copy_window_ms: int = 600_000) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """(community, hour start ms) -> (messages, speakers, active members, joins)."""
    accepted, _ = accepted_events(events, lateness_ms)
    kinds = classify([e for e in accepted if e["topic"] == "chat"], copy_window_ms)
    hours: dict[tuple[str, int], list] = {}
    for e in accepted:
        h = hours.setdefault((e["community_id"], e["ts"] - e["ts"] % HOUR),
                             [0, set(), set(), 0])
        if e["topic"] == "chat":
            h[0] += 1
            kind = kinds[e["id"]]
            if e["sender_role"] == "member" and kind != "system":
                h[1].add(e["member_id"])
                if kind == "real":
                    h[2].add(e["member_id"])
        elif e["topic"] == "members" and e["action"] == "join":
            h[3] += 1
    return {k: (n, len(s), len(a), j) for k, (n, s, a, j) in hours.items()}


DAY = 24 * HOUR


def silence_transitions(events: list[dict], lateness_ms: int, end_ms: int,
                        copy_window_ms: int = 600_000) -> set[tuple]:
    """(community, member, status, previous, at, silent since) of every silence transition
    (docs/metrics.md, "Silent members"), simulated hour by hour: within an hour real
    interactions, then membership changes; at each hour end from the end of the partition's
    first hour with an accepted event to ``end_ms``, the present members silent 3 (30) days
    become churn_risk (win_back)."""
    accepted, _ = accepted_events(events, lateness_ms)
    first_of_partition: dict[int, int] = {}
    partition_of: dict[str, int] = {}
    for e in accepted:
        first_of_partition[e["partition"]] = min(
            first_of_partition.get(e["partition"], e["ts"]), e["ts"])
        partition_of[e["community_id"]] = e["partition"]
    messages = [e for e in accepted if e["topic"] == "chat"]
    kinds = classify(messages, copy_window_ms)
    by_hour: dict[tuple[str, int], dict[str, list]] = defaultdict(
        lambda: {"real": [], "changes": []})
    for m in messages:
        if kinds[m["id"]] == "real":
            by_hour[(m["community_id"], m["ts"] - m["ts"] % HOUR)]["real"].append(m)
    for c in accepted:
        if c["topic"] in ("members", "snapshots"):
            by_hour[(c["community_id"], c["ts"] - c["ts"] % HOUR)]["changes"].append(c)
    communities = {c for c, _ in by_hour}
    out: set[tuple] = set()
    for community in communities:
        first = first_of_partition[partition_of[community]]
        first_check_ms = first - first % HOUR + HOUR
        present: dict[str, int] = {}
        status: dict[str, str] = {}
        last: dict[str, int] = {}
        hours = sorted(h for c, h in by_hour if c == community)
        hour = hours[0]
        while hour + HOUR <= end_ms:
            got = by_hour.get((community, hour), {"real": [], "changes": []})
            firsts: dict[str, int] = {}
            for m in got["real"]:
                firsts[m["member_id"]] = min(firsts.get(m["member_id"], m["ts"]), m["ts"])
            for member, first in sorted(firsts.items()):
                if status.get(member) in ("churn_risk", "win_back"):
                    since = max(present.get(member, 0), last.get(member, 0))
                    out.add((community, member, "reactivated", status[member], first, since))
                    status[member] = "active"
                last[member] = max(last.get(member, 0), max(
                    m["ts"] for m in got["real"] if m["member_id"] == member))
            for c in sorted(got["changes"], key=lambda c: (c["ts"], c["id"])):
                before = set(present)
                if c["action"] == "snapshot":
                    present = {m: present.get(m, c["ts"]) for m in c["member_ids"]}
                elif c["action"] == "join":
                    present.setdefault(c["member_id"], c["ts"])
                else:
                    present.pop(c["member_id"], None)
                for member in sorted(before - set(present)):
                    if status.get(member, "active") != "left":
                        out.add((community, member, "left", status.get(member, "active"),
                                 c["ts"], None))
                        status[member] = "left"
                for member in sorted(set(present) - before):
                    if status.get(member) == "left":
                        out.add((community, member, "active", "left", c["ts"], None))
                        status[member] = "active"
            hour += HOUR
            if hour < first_check_ms:
                continue
            for member, since_present in present.items():
                since = max(since_present, last.get(member, 0))
                if status.get(member, "active") == "active" and since + 3 * DAY <= hour:
                    out.add((community, member, "churn_risk", "active", since + 3 * DAY, since))
                    status[member] = "churn_risk"
                if status.get(member) == "churn_risk" and since + 30 * DAY <= hour:
                    out.add((community, member, "win_back", "churn_risk", since + 30 * DAY,
                             since))
                    status[member] = "win_back"
    return out


def _day_end_ms(day: date, zone: str) -> int:
    following = day + timedelta(days=1)
    return int(datetime(following.year, following.month, following.day,
                        tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def _present_at(changes: list[dict], end_ms: int) -> set[str]:
    """Who is present after the changes before ``end_ms`` (membership rules, time order)."""
    present: set[str] = set()
    for c in changes:
        if c["ts"] >= end_ms:
            break
        if c["action"] == "snapshot":
            present = set(c["member_ids"])
        elif c["action"] == "join":
            present.add(c["member_id"])
        else:
            present.discard(c["member_id"])
    return present


def retention_cohorts(events: list[dict], lateness_ms: int, end_ms: int,
                      zone: str = "Asia/Shanghai", copy_window_ms: int = 600_000,
                      max_channels: int = 20) -> dict[tuple[str, date, str], tuple]:
    """(community, cohort day, channel or '*') -> (size, retained day 1, day 7, day 30) of
    every join cohort whose day ended by ``end_ms``, a retained count None while its day has
    not ended (docs/metrics.md, "Retention cohorts").  A member's cohort is the local day of
    their first accepted join by (time, id), its channel that join's: the channel, else the
    QR code id; the community's first ``max_channels`` names in (time, id) order of all its
    joins, later ones 'other', none '(none)'.  Retained on day n: present at the end of
    cohort day + n (membership replayed from scratch) and a real interaction that day."""
    accepted, _ = accepted_events(events, lateness_ms)
    kinds = classify([e for e in accepted if e["topic"] == "chat"], copy_window_ms)
    active: dict[tuple[str, str], set[date]] = defaultdict(set)
    changes: dict[str, list[dict]] = defaultdict(list)
    for e in accepted:
        if e["topic"] == "chat" and kinds[e["id"]] == "real":
            active[(e["community_id"], e["member_id"])].add(day_of(e["ts"], zone))
        elif e["topic"] in ("members", "snapshots"):
            changes[e["community_id"]].append(e)
    out: dict[tuple[str, date, str], tuple] = {}
    for community, items in changes.items():
        items.sort(key=lambda c: (c["ts"], c["id"]))
        names: list[str] = []
        first: dict[str, tuple[date, str]] = {}
        for c in items:
            if c["action"] != "join":
                continue
            name = c.get("channel") or c.get("qr_code_id") or None
            if name is None or name == "(none)":
                label = "(none)"
            elif name in ("*", "other"):
                label = "other"
            elif name in names or len(names) < max_channels:
                names += [] if name in names else [name]
                label = name
            else:
                label = "other"
            first.setdefault(c["member_id"], (day_of(c["ts"], zone), label))
        cohorts: dict[date, list[tuple[str, str]]] = defaultdict(list)
        for member, (day, label) in first.items():
            cohorts[day].append((member, label))
        for day, members in cohorts.items():
            if _day_end_ms(day, zone) > end_ms:
                continue
            kept_by_n = []
            for n in (1, 7, 30):
                later = day + timedelta(days=n)
                later_end = _day_end_ms(later, zone)
                if later_end > end_ms:
                    kept_by_n.append(None)
                    continue
                present = _present_at(items, later_end)
                kept_by_n.append({m for m, _ in members if m in present
                                  and later in active[(community, m)]})
            for label in {"*"} | {label for _, label in members}:
                group = {m for m, lab in members if label in ("*", lab)}
                out[(community, day, label)] = (len(group), *(
                    None if kept is None else len(kept & group) for kept in kept_by_n))
    return out


def member_profiles(events: list[dict], lateness_ms: int, end_ms: int,
                    zone: str = "Asia/Shanghai", copy_window_ms: int = 600_000,
                    share: float = 0.06, min_score: float = 30.0, core_days: int = 10,
                    ) -> tuple[dict[tuple[str, date, str], dict], dict[tuple[str, date], tuple]]:
    """Member profiles and layer counts of every community day that closed by ``end_ms``
    (a day with an accepted event), from scratch (docs/metrics.md, "KOC and member layers").

    Returns ((community, day, member) -> profile fields, (community, day) -> (koc, core,
    participating, onlooker)).  Counts per member and local day: real interactions, real
    text messages and their characters (each up to 300), replies received (the quoted
    message a member's non-system message of the same community in the reply's clock hour or the one
    before, by another member), distinct @mentions received from others' real
    interactions, scored and positive real interactions, joins naming them as inviter.
    """
    accepted, _ = accepted_events(events, lateness_ms)
    messages = {e["id"]: e for e in accepted if e["topic"] == "chat"}
    kinds = classify(list(messages.values()), copy_window_ms)
    polarity = {e["id"][2:]: e["polarity"] for e in accepted if e["topic"] == "scores"}
    counts: dict[tuple[str, date], dict[str, list[int]]] = defaultdict(dict)

    def add(community: str, ts: int, member: str, index: int, value: int = 1) -> None:
        row = counts[(community, day_of(ts, zone))].setdefault(member, [0] * 8)
        row[index] += value

    for m in messages.values():
        if kinds[m["id"]] != "real":
            continue
        c, ts, sender = m["community_id"], m["ts"], m["member_id"]
        add(c, ts, sender, 0)
        if m["msg_type"] == "text" and m["text"]:
            add(c, ts, sender, 1)
            add(c, ts, sender, 2, min(len(m["text"]), 300))
        if m["id"] in polarity:
            add(c, ts, sender, 6)
            add(c, ts, sender, 5, polarity[m["id"]] == "positive")
        target = messages.get(m.get("reply_to") or "")
        if (target is not None and target["community_id"] == c
                and target["sender_role"] == "member" and kinds[target["id"]] != "system"
                and target["member_id"] != sender
                and 0 <= ts // HOUR - target["ts"] // HOUR <= 1):
            add(c, ts, target["member_id"], 3)
        for mentioned in set(m.get("mentions") or ()) - {sender}:
            add(c, ts, mentioned, 4)
    changes: dict[str, list[dict]] = defaultdict(list)
    for e in accepted:
        if e["topic"] in ("members", "snapshots"):
            changes[e["community_id"]].append(e)
            inviter = e.get("inviter_id")
            if e.get("action") == "join" and inviter and inviter != e["member_id"]:
                add(e["community_id"], e["ts"], inviter, 7)
    for items in changes.values():
        items.sort(key=lambda c: (c["ts"], c["id"]))
    closed = {(e["community_id"], day_of(e["ts"], zone)) for e in accepted}
    profiles: dict[tuple[str, date, str], dict] = {}
    layers: dict[tuple[str, date], tuple] = {}
    parts = (("messages", 30.0, 60.0), ("engagement", 25.0, 20.0), ("content", 15.0, 30.0),
             ("sentiment", 15.0, 1.0), ("invitations", 15.0, 5.0))
    for community, day in closed:
        if _day_end_ms(day, zone) > end_ms:
            continue
        present = _present_at(changes[community], _day_end_ms(day, zone))
        totals: dict[str, list[int]] = {}
        active_days: Counter[str] = Counter()
        seen: set[str] = set()
        for back in range(31):
            rows = counts.get((community, day - timedelta(days=back)), {})
            seen |= set(rows)
            if back == 30:
                continue
            for member, row in rows.items():
                total = totals.setdefault(member, [0] * 8)
                totals[member] = [a + b for a, b in zip(total, row, strict=True)]
                active_days[member] += row[0] > 0
        scores, points = {}, {}
        for member in present & set(totals):
            t = totals[member]
            values = {"messages": t[0], "engagement": t[3] + t[4],
                      "content": t[2] / t[1] if t[1] else 0.0,
                      "sentiment": t[5] / t[6] if t[6] else 0.0, "invitations": t[7]}
            points[member] = {n: round(w * min(1.0, values[n] / cap), 2) for n, w, cap in parts}
            scores[member] = round(sum(points[member].values()), 2)
        ranked = sorted((m for m in scores if totals[m][0] > 0), key=lambda m: (-scores[m], m))
        koc = {m for m in ranked[:math.ceil(len(ranked) * share)] if scores[m] >= min_score}
        tally = Counter()
        for member in present:
            t = totals.get(member, [0] * 8)
            layer = ("core" if member in koc or active_days[member] >= core_days
                     else "participating" if t[0] else "onlooker")
            tally[layer] += 1
            if member not in seen:
                continue
            profiles[(community, day, member)] = {
                "layer": layer, "is_koc": member in koc,
                "rank": ranked.index(member) + 1 if member in ranked else None,
                "score": scores.get(member, 0.0), "real_interactions": t[0],
                "active_days": active_days[member], "replies_received": t[3],
                "mentions_received": t[4], "scored_messages": t[6], "invited_joins": t[7]}
        layers[(community, day)] = (len(koc), tally["core"], tally["participating"],
                                    tally["onlooker"])
    return profiles, layers


def profile_view(record) -> dict:
    """The oracle's fields of a MemberProfile record."""
    return {"layer": record.layer, "is_koc": record.is_koc, "rank": record.rank,
            "score": record.score, "real_interactions": record.real_interactions,
            "active_days": record.active_days, "replies_received": record.replies_received,
            "mentions_received": record.mentions_received,
            "scored_messages": record.scored_messages, "invited_joins": record.invited_joins}
