"""HTML of the console: plain server-rendered pages, no script, no external resource.

Every value from a record or a request goes through :func:`esc` (excerpts are
user messages: hostile markup must show as text).  Pages say things in Chinese
first and English second, for the moderators and for everyone else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

from pipeline.console.access import Account
from pipeline.console.actions import (
    ACTION_LABELS,
    ACTIONS,
    ACTOR_MAX,
    NOTE_MAX,
    STATUS_LABELS,
    TIER_LABELS,
    Action,
    allowed,
)
from pipeline.console.present import age, deadlines, duration, local, overdue
from schemas.alerts import Alert

CSS = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--soft:#f6f8fa;--red:#b42318;--green:#1a7f37}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;font:14px/1.5 system-ui,-apple-system,
"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif}
header{background:#24292f;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;
align-items:baseline;flex-wrap:wrap}
header a{color:#fff;text-decoration:none;font-weight:600;font-size:1.05rem}
header .muted{color:#c9d1d9}
main{padding:.8rem 1.2rem 2rem;max-width:1500px}
h1{font-size:1.3rem;margin:.6rem 0}
h2{font-size:1.05rem;margin:1.4rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.4rem .55rem;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600;white-space:nowrap;font-size:.85rem}
tr.row-severe td:first-child{box-shadow:inset 4px 0 var(--red)}
tr.row-moderate td:first-child{box-shadow:inset 4px 0 #e8590c}
tr.row-mild td:first-child{box-shadow:inset 4px 0 #f2b705}
.badge{display:inline-block;padding:.05rem .55rem;border-radius:999px;font-weight:700;
font-size:.85rem;white-space:nowrap}
.tier-severe{background:var(--red);color:#fff}
.tier-moderate{background:#e8590c;color:#fff}
.tier-mild{background:#f2b705;color:#3d2c00}
.status{display:inline-block;padding:.05rem .45rem;border:1px solid var(--line);border-radius:4px;
white-space:nowrap;background:var(--soft)}
.status-open{border-color:var(--red);color:var(--red)}
.nowrap{white-space:nowrap}
.overdue{color:var(--red);font-weight:700}
.met{color:var(--green)}
.late{color:#9a6700}
.closed{color:var(--muted)}
.muted{color:var(--muted)}
.term{display:inline-block;background:#ddf4ff;border-radius:4px;padding:0 .35rem;
margin:0 .2rem .2rem 0;font-size:.85rem}
.summary{display:flex;gap:1.2rem;flex-wrap:wrap;align-items:baseline;margin:.4rem 0 .8rem}
.summary b{font-size:1.2rem}
.flash{padding:.6rem .8rem;border-radius:6px;margin:.8rem 0}
.flash-ok{background:#dafbe1;border:1px solid var(--green)}
.flash-wait{background:#fff8c5;border:1px solid #bf8700}
.flash-error{background:#ffebe9;border:1px solid var(--red)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1.2rem;margin:0}
.facts dt{color:var(--muted)}
.facts dd{margin:0}
.excerpt{white-space:pre-wrap;word-break:break-word}
.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:.8rem}
fieldset{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem .8rem;margin:0}
fieldset[disabled]{opacity:.45}
legend{font-weight:700;padding:0 .3rem}
label{display:block;margin:.3rem 0 .1rem;font-size:.85rem;color:var(--muted)}
input[type=text],input[type=password],textarea{width:100%;font:inherit;padding:.3rem .4rem;
border:1px solid var(--line);border-radius:4px}
button{margin-top:.5rem;font:inherit;font-weight:600;padding:.3rem 1rem;border-radius:6px;
border:1px solid #1f883d;background:#1f883d;color:#fff;cursor:pointer}
fieldset[disabled] button{background:#8c959f;border-color:#8c959f;cursor:not-allowed}
.empty{padding:1.5rem;background:var(--soft);border-radius:6px;text-align:center}
"""

REFRESH_LIST_S = 10
"""The list re-renders itself this often: countdowns move and new alerts appear."""


def esc(value: object) -> str:
    return escape(str(value), quote=True)


ROLE_LABELS = {"admin": "管理员 administrator", "moderator": "版主 moderator"}


def whoami(viewer: Account | None) -> str:
    """The header's "signed in as": the account and what it may see."""
    if viewer is None:
        return ""
    scope = ("全部社群 all communities" if viewer.admin
             else f"{len(viewer.communities)} 个社群 communities")
    return (f'<span class="muted" id="whoami">登录身份 Signed in as <b>{esc(viewer.name)}</b> · '
            f"{esc(ROLE_LABELS[viewer.role])} · {esc(scope)}</span>")


def layout(title: str, body: str, *, base: str, refresh: str | None = None,
           viewer: Account | None = None) -> str:
    """A whole page; ``refresh`` is a meta-refresh value ('10' or '2;url=…')."""
    meta = f'<meta http-equiv="refresh" content="{esc(refresh)}">' if refresh else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'{meta}<title>{esc(title)}</title><style>{CSS}</style></head><body>'
        f'<header><a href="{esc(base)}/console">舆情告警台 Moderator console</a>'
        '<span class="muted">受理 → 解决 → 回访 · acknowledge → resolve → follow up</span>'
        f"{whoami(viewer)}</header><main>{body}</main></body></html>"
    )


def tier_badge(tier: str) -> str:
    zh, en = TIER_LABELS.get(tier, (tier, tier))
    return f'<span class="badge tier-{esc(tier)}" title="{esc(en)}">{esc(zh)} {esc(en)}</span>'


def status_badge(status: str) -> str:
    zh, en = STATUS_LABELS.get(status, (status, status))
    return f'<span class="status status-{esc(status)}">{esc(zh)} · {esc(en)}</span>'


def terms(values: list[str]) -> str:
    return "".join(f'<span class="term">{esc(t)}</span>' for t in values) or "—"


def alert_path(base: str, incident_id: str) -> str:
    return f"{base}/console/alerts/{quote(incident_id, safe='')}"


def deadline_cells(alert: Alert, now: datetime) -> str:
    cells = {d.key: d for d in deadlines(alert)}
    out = []
    for key in ("respond", "close_loop", "statement"):
        clock = cells.get(key)
        if clock is None:
            out.append('<td class="muted">—</td>')
            continue
        state = clock.state(now)
        out.append(f'<td class="nowrap {state}" data-deadline="{key}" '
                   f'title="{esc(local(clock.due))}">{esc(clock.countdown(now))}</td>')
    return "".join(out)


def list_page(open_alerts: list[Alert], closed: list[Alert], now: datetime, *,
              base: str, viewer: Account | None = None) -> str:
    """Open incidents, most urgent first, then the recently closed ones."""
    tiers = Counter(a.tier for a in open_alerts)
    late = sum(overdue(a, now) for a in open_alerts)
    summary = (
        '<div class="summary">'
        f'<span>待处理 open <b>{len(open_alerts)}</b></span>'
        + "".join(f'<span>{tier_badge(t)} <b>{tiers[t]}</b></span>'
                  for t in ("severe", "moderate", "mild"))
        + f'<span class="{"overdue" if late else "muted"}">逾期 overdue <b>{late}</b></span>'
        f'<span class="muted">更新于 updated {esc(local(now))} (UTC+8) · '
        f"每 {REFRESH_LIST_S} 秒刷新 refreshes every {REFRESH_LIST_S} s</span></div>"
    )
    head = ("<tr><th>等级 Tier</th><th>社群 Community</th><th>状态 Status</th>"
            "<th>持续 Age</th><th>响应 Respond 3h</th><th>闭环 Close loop 48h</th>"
            "<th>声明 Statement 24h</th><th>关键词 Terms</th>"
            "<th>负面/成员 Neg./members</th><th></th></tr>")
    if open_alerts:
        rows = "".join(_list_row(a, now, base) for a in open_alerts)
        table = f'<table id="open-alerts"><thead>{head}</thead><tbody>{rows}</tbody></table>'
    else:
        table = '<p class="empty">暂无待处理告警 · No open alerts</p>'
    body = f"<h1>待处理告警 Open alerts</h1>{summary}{table}"
    if closed:
        items = "".join(
            f'<tr><td>{tier_badge(a.tier)}</td><td>{esc(a.community_id)}</td>'
            f'<td>{status_badge(a.status)}</td><td>{esc(local(a.followed_up_at))}</td>'
            f'<td>{esc(a.followed_up_by or "—")}</td>'
            f'<td><a href="{esc(alert_path(base, a.incident_id))}">详情 details</a></td></tr>'
            for a in closed
        )
        body += ("<h2>最近闭环 Recently closed</h2><table><thead><tr><th>等级 Tier</th>"
                 "<th>社群 Community</th><th>状态 Status</th><th>回访于 Followed up</th>"
                 f"<th>回访人 By</th><th></th></tr></thead><tbody>{items}</tbody></table>")
    return layout("舆情告警 Open alerts", body, base=base, refresh=str(REFRESH_LIST_S),
                  viewer=viewer)


def _list_row(alert: Alert, now: datetime, base: str) -> str:
    spread = len(alert.community_ids) - 1
    community = esc(alert.community_id) + (
        f' <span class="muted" title="{esc(", ".join(alert.community_ids[1:]))}">'
        f"+{spread}</span>" if spread > 0 else "")
    return (
        f'<tr class="row-{esc(alert.tier)}" data-incident="{esc(alert.incident_id)}">'
        f"<td>{tier_badge(alert.tier)}</td><td>{community}</td>"
        f"<td>{status_badge(alert.status)}</td>"
        f'<td class="nowrap" title="{esc(local(alert.opened_at))}">'
        f"{esc(duration(age(alert, now)))}</td>"
        f"{deadline_cells(alert, now)}<td>{terms(alert.matched_terms)}</td>"
        f'<td class="nowrap">{alert.negative_messages} / {alert.members}</td>'
        f'<td class="nowrap"><a class="open" href="{esc(alert_path(base, alert.incident_id))}">'
        "详情 details</a></td></tr>"
    )


@dataclass(frozen=True)
class Flash:
    """A message above the detail page: ``kind`` is ok, wait or error."""

    kind: str
    text: str


@dataclass(frozen=True)
class FormState:
    """What to put back into an action form (after a rejected submission)."""

    action: Action | None = None
    actor: str = ""
    note: str = ""


EMPTY_FORM = FormState()


@dataclass(frozen=True)
class Acting:
    """What the signed-in account may do on this incident's page."""

    may_act: bool = True
    ask_actor: bool = True
    """Only the shared token's holders name themselves; an account acts under its name."""
    name: str = ""


def detail_page(alert: Alert, now: datetime, *, base: str, csrf: str, command_ids: dict[str, str],
                flash: Flash | None = None, form: FormState = EMPTY_FORM,
                show_actions: bool = True, refresh: str | None = None,
                viewer: Account | None = None, acting: Acting = Acting()) -> str:
    """Everything about one incident, and the forms for the next step of its loop."""
    title = f"{TIER_LABELS.get(alert.tier, ('', ''))[0]} {alert.community_id}"
    parts = [
        f'<h1>{tier_badge(alert.tier)} 社群 {esc(alert.community_id)} '
        f'{status_badge(alert.status)}</h1>',
        f'<p class="muted">事件 incident <code>{esc(alert.incident_id)}</code> · '
        f"版本 revision {alert.revision} · 最新变更 last change: {esc(alert.event)} "
        f"@ {esc(local(alert.updated_at))} (UTC+8)</p>",
    ]
    if flash is not None:
        parts.append(f'<div class="flash flash-{esc(flash.kind)}" id="flash">'
                     f"{esc(flash.text)}</div>")
    parts += [_deadlines(alert, now), _reasons(alert), _facts(alert), _excerpts(alert),
              _timeline(alert)]
    if show_actions and not acting.may_act:
        parts.append(
            '<h2>操作 Actions</h2><p class="flash flash-error" id="read-only">只读：此事件归属社群 '
            f"{esc(alert.community_id)}，未分配给你，请联系该社群的版主或管理员。 · Read only: the "
            f"incident belongs to {esc(alert.community_id)}, which is not assigned to you; its "
            "moderators or an administrator act on it.</p>")
    elif show_actions:
        parts.append(_actions(alert, base=base, csrf=csrf, command_ids=command_ids, form=form,
                              acting=acting))
    return layout(title, "".join(parts), base=base, refresh=refresh, viewer=viewer)


def _deadlines(alert: Alert, now: datetime) -> str:
    rows = "".join(
        f"<tr><td>{esc(d.label_zh)} {esc(d.label_en)}</td><td>{esc(local(d.due))}</td>"
        f'<td class="{d.state(now)}" data-deadline="{d.key}">{esc(d.countdown(now))}</td></tr>'
        for d in deadlines(alert)
    )
    return ("<h2>时限 Deadlines</h2><table><thead><tr><th>时限 SLA</th><th>截止 Due (UTC+8)</th>"
            f"<th>剩余 Time left</th></tr></thead><tbody>{rows}</tbody></table>")


def _reasons(alert: Alert) -> str:
    items = "".join(f"<li>{esc(r)}</li>" for r in alert.reasons) or "<li>—</li>"
    return f"<h2>原因 Reasons</h2><ul>{items}</ul>"


def _facts(alert: Alert) -> str:
    facts = [
        ("负面消息 Negative messages", str(alert.negative_messages)),
        ("涉及成员 Members", str(alert.members)),
        ("最低分 Min score", f"{alert.min_score:.2f}"),
        ("平均分 Mean score", f"{alert.mean_score:.2f}"),
        ("热度 Heat (replies + @)", str(alert.heat)),
        ("升级次数 Escalations", str(alert.escalations)),
        ("涉及社群 Communities", ", ".join(alert.community_ids)),
        ("时间窗 Window (UTC+8)", f"{local(alert.window_start)} – {local(alert.window_end)}"),
    ]
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    rows += f"<dt>关键词 Terms</dt><dd>{terms(alert.matched_terms)}</dd>"
    return f'<h2>指标 Scores</h2><dl class="facts">{rows}</dl>'


def _excerpts(alert: Alert) -> str:
    if not alert.excerpts:
        return "<h2>摘录 Excerpts</h2><p class=\"muted\">—</p>"
    rows = "".join(
        f'<tr><td class="nowrap">{esc(local(x.ts))}</td>'
        f"<td><code>{esc(x.member_ref)}</code></td><td>{x.score:.2f}</td>"
        f'<td class="excerpt">{esc(x.text)}</td><td>{terms(x.terms)}</td></tr>'
        for x in alert.excerpts
    )
    return ('<h2>摘录 Excerpts <span class="muted">（已脱敏 masked）</span></h2>'
            "<table><thead><tr><th>时间 Time</th><th>成员 Member</th><th>得分 Score</th>"
            f"<th>内容 Text</th><th>关键词 Terms</th></tr></thead><tbody>{rows}</tbody></table>")


def _timeline(alert: Alert) -> str:
    steps = [
        ("开启 Opened", alert.opened_at, None),
        ("受理 Acknowledged", alert.acknowledged_at, alert.acknowledged_by),
        ("解决 Resolved", alert.resolved_at, alert.resolved_by),
        ("回访 Followed up", alert.followed_up_at, alert.followed_up_by),
    ]
    rows = "".join(
        f'<tr data-step="{i}"><td>{esc(label)}</td><td>{esc(local(at))}</td>'
        f'<td class="actor">{esc(by or "—")}</td></tr>'
        for i, (label, at, by) in enumerate(steps)
    )
    notes = "".join(f'<li class="excerpt">{esc(n)}</li>' for n in alert.notes)
    notes_html = f"<h2>备注 Notes</h2><ol>{notes}</ol>" if notes else ""
    return ("<h2>时间线 Timeline</h2><table id=\"timeline\"><thead><tr><th>步骤 Step</th>"
            "<th>时间 When (UTC+8)</th><th>处理人 By</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{notes_html}")


def _actions(alert: Alert, *, base: str, csrf: str, command_ids: dict[str, str],
             form: FormState, acting: Acting) -> str:
    forms = []
    for action in ACTIONS:
        zh, en = ACTION_LABELS[action]
        enabled = allowed(alert, action)
        actor = form.actor if form.action in (None, action) else ""
        note = form.note if form.action == action else ""
        who = (
            f'<label for="{action}-actor">处理人 Who</label>'
            f'<input type="text" id="{action}-actor" name="actor" required '
            f'maxlength="{ACTOR_MAX}" value="{esc(actor)}" autocomplete="name">'
        ) if acting.ask_actor else ""
        forms.append(
            f'<form method="post" action="{esc(alert_path(base, alert.incident_id))}/{action}" '
            f'id="form-{action}"><fieldset{"" if enabled else " disabled"}>'
            f"<legend>{esc(zh)} {esc(en)}</legend>"
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<input type="hidden" name="command_id" value="{esc(command_ids[action])}">'
            f'{who}<label for="{action}-note">备注 Note</label>'
            f'<textarea id="{action}-note" name="note" rows="2" maxlength="{NOTE_MAX}">'
            f"{esc(note)}</textarea>"
            f'<button type="submit" name="submit" value="{action}">{esc(zh)} {esc(en)}</button>'
            "</fieldset></form>"
        )
    hint = ('<p class="muted">仅当前状态可执行的操作可用 · only the actions valid for the current '
            "status are enabled"
            + ("" if acting.ask_actor else f" · 以 {esc(acting.name)} 身份操作 · you act as "
               f"{esc(acting.name)}") + "</p>")
    return f'<h2>操作 Actions</h2>{hint}<div class="actions">{"".join(forms)}</div>'


def login_page(*, base: str, next_path: str, failed: bool) -> str:
    """Shown on 401: exchange the token for a session cookie without putting it in a URL."""
    error = ('<div class="flash flash-error">令牌无效 Invalid token</div>' if failed else "")
    body = (
        f"<h1>需要令牌 Token required</h1>{error}"
        "<p>请输入你的控制台令牌。 Enter your console token.</p>"
        f'<form method="post" action="{esc(base)}/console/login" style="max-width:28rem">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label for="token">令牌 Token</label>'
        '<input type="password" id="token" name="token" required autocomplete="current-password">'
        '<button type="submit">登录 Sign in</button></form>'
    )
    return layout("需要令牌 Token required", body, base=base)


def message_page(title: str, text: str, *, base: str, viewer: Account | None = None) -> str:
    """A short bilingual message (errors without an incident to show)."""
    return layout(title, f'<h1>{esc(title)}</h1><p id="message">{esc(text)}</p>'
                  f'<p><a href="{esc(base)}/console">返回列表 Back to the list</a></p>', base=base,
                  viewer=viewer)
