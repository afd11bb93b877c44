"""The console's routes on the Faust worker's web server: pages, form posts and the JSON API.

Reads go to the :class:`~.ports.AlertReader`; every change is an
:class:`~schemas.alerts.IncidentCommand` handed to the
:class:`~.ports.CommandSender`, so a form post answers "submitted" and the
detail page polls briefly until the incident agent's new revision shows up.

Every request acts for one account (:mod:`.access`): lists show only the incidents
it sees, other incidents and actions outside its communities are refused with 403
and a reason, and every attempted action, done or refused, is one line on the
``pulse.console.audit`` logger (who, when, what, on which incident, the outcome).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote, unquote, urlencode, urlsplit

import faust
from aiohttp import web
from faust.web import Request, Response, View

from pipeline.console.access import AccessPolicy, Account
from pipeline.console.actions import (
    ACTIONS,
    RESULTS,
    STATUS_LABELS,
    Action,
    allowed,
    clean_actor,
    clean_note,
    parse_action,
    reached,
    sort_key,
)
from pipeline.console.auth import SESSION_COOKIE, SESSION_TTL, ConsoleAuth, Principal
from pipeline.console.pages import (
    EMPTY_FORM,
    Acting,
    Flash,
    FormState,
    alert_path,
    detail_page,
    list_page,
    login_page,
    message_page,
)
from pipeline.console.ports import AlertReader, CommandSender
from schemas.alerts import Alert, IncidentCommand
from schemas.base import utc_now

log = logging.getLogger(__name__)
audit_log = logging.getLogger("pulse.console.audit")
AUDIT_PREFIX = "console audit: "
"""Starts every audit line, so the entries can be found in any log format."""

DISABLED = "console disabled: set PULSE_CONSOLE_TOKEN or PULSE_CONSOLE_ACCESS_FILE"
ACTOR_COOKIE = "pulse_actor"
POLL_EVERY_S = 2
POLL_TRIES = 15
"""After a submission the detail page re-checks for 30 s, then says it is not applied yet."""
RECENT_CLOSED = 20
MAX_RECENT = 500

HTML_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _json(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(value, ensure_ascii=False), status=status,
                        content_type="application/json",
                        headers={**JSON_HEADERS, **(headers or {})})


def _html(page: str, status: int = 200) -> web.Response:
    return web.Response(text=page, status=status, content_type="text/html",
                        headers=HTML_HEADERS)


def _disabled() -> web.Response:
    return web.Response(text=DISABLED, status=503, headers=JSON_HEADERS)


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **HTML_HEADERS})


def _field(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _uuid_or_new(value: str | None) -> str:
    """The client's command id when it is a UUID (retries stay idempotent), else a new uuid4."""
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return str(uuid.uuid4())


class Console:
    """Request handling behind every route: auth, reading, and submitting commands."""

    def __init__(self, reader: AlertReader, sender: CommandSender, access: AccessPolicy,
                 public_url: str, clock: Callable[[], datetime] = utc_now) -> None:
        self.reader = reader
        self.sender = sender
        self.clock = clock
        self.auth = ConsoleAuth(access, clock) if access else None
        url = urlsplit(public_url)
        self.base = url.path.rstrip("/")
        self.secure = url.scheme == "https"

    # -- auth ---------------------------------------------------------------

    def _gate(self, request: web.Request, *, api: bool) -> web.Response | Principal:
        """Who the request acts for, or the response refusing it."""
        if self.auth is None:
            return _json({"error": DISABLED}, status=503) if api else _disabled()
        principal = self.auth.identify(request.headers, request.cookies)
        if principal is not None:
            return principal
        if api:
            return _json({"error": "unauthorized: send Authorization: Bearer <token>"},
                         status=401, headers={"WWW-Authenticate": 'Bearer realm="pulse"'})
        return _html(login_page(base=self.base, next_path=self.base + request.path_qs,
                                failed=False), status=401)

    def _exchange(self, request: web.Request) -> web.Response | None:
        """``?token=`` on a console page: swap it for a session cookie and drop it from the URL."""
        token = request.query.get("token")
        if token is None or self.auth is None:
            return None
        account = self.auth.account_of(token)
        if account is None:
            return _html(login_page(base=self.base, next_path=f"{self.base}/console",
                                    failed=True), status=401)
        rest = [(k, v) for k, v in request.query.items() if k != "token"]
        response = _redirect(self.base + request.path + (f"?{urlencode(rest)}" if rest else ""))
        self._start_session(response, account)
        return response

    def _start_session(self, response: web.Response, account: Account) -> None:
        assert self.auth is not None
        response.set_cookie(SESSION_COOKIE, self.auth.new_session(account), path=f"{self.base}/",
                            max_age=int(SESSION_TTL.total_seconds()), httponly=True,
                            samesite="Strict", secure=self.secure)

    def _csrf(self, request: web.Request) -> str:
        session = request.cookies.get(SESSION_COOKIE)
        if self.auth is None or not session:
            return ""
        return self.auth.csrf_for(session)

    def _refused_page(self, account: Account, alert: Alert) -> web.Response:
        return _html(message_page("无权查看 Not permitted", _not_assigned(account, alert),
                                  base=self.base, viewer=account), 403)

    def _audit(self, principal: Principal, action: str, incident_id: str,
               alert: Alert | None, outcome: str, status: int,
               command: IncidentCommand | None = None) -> None:
        """One line per attempted action: who, when, what, where, and what came of it."""
        entry = {
            "at": self.clock().isoformat(), "account": principal.account.name,
            "role": principal.account.role, "via": principal.via, "action": action,
            "incident_id": incident_id,
            "community_id": alert.community_id if alert is not None else None,
            "outcome": outcome, "status": status,
            "actor": command.actor if command is not None else None,
            "command_id": command.command_id if command is not None else None,
        }
        audit_log.info("%s%s", AUDIT_PREFIX, json.dumps(entry, ensure_ascii=False))

    # -- pages --------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        if self.auth is None:
            return _disabled()
        form = await request.post()
        next_path = _field(form, "next") or ""
        local = next_path.startswith(f"{self.base}/console") and not any(
            bad in next_path for bad in ("//", "\\", "\r", "\n"))
        if not local:
            next_path = f"{self.base}/console"
        account = self.auth.account_of(_field(form, "token"))
        if account is None:
            return _html(login_page(base=self.base, next_path=next_path, failed=True), status=401)
        response = _redirect(next_path)
        self._start_session(response, account)
        return response

    async def list_page(self, request: web.Request) -> web.Response:
        exchanged = self._exchange(request)
        if exchanged is not None:
            return exchanged
        gate = self._gate(request, api=False)
        if isinstance(gate, web.Response):
            return gate
        account = gate.account
        now = self.clock()
        open_alerts = sorted((a for a in await self.reader.open_alerts() if account.sees(a)),
                             key=sort_key)
        recent = await self.reader.recent_alerts(RECENT_CLOSED if account.admin else MAX_RECENT)
        closed = [a for a in recent if a.status == "followed_up" and account.sees(a)]
        return _html(list_page(open_alerts, closed[:RECENT_CLOSED], now, base=self.base,
                               viewer=account))

    async def detail(self, request: web.Request, incident_id: str) -> web.Response:
        exchanged = self._exchange(request)
        if exchanged is not None:
            return exchanged
        gate = self._gate(request, api=False)
        if isinstance(gate, web.Response):
            return gate
        alert = await self.reader.get(incident_id)
        if alert is None:
            return self._not_found(incident_id)
        if not gate.account.sees(alert):
            return self._refused_page(gate.account, alert)
        submitted = parse_action(request.query.get("submitted", ""))
        remembered = unquote(request.cookies.get(ACTOR_COOKIE, ""))
        flash, refresh = None, None
        if submitted is not None:
            flash, refresh = self._progress(alert, submitted, request.query.get("n", "0"))
        return _html(self._detail(alert, request, gate.account, flash=flash, refresh=refresh,
                                  form=FormState(actor=clean_actor(remembered) or "")))

    def _progress(self, alert: Alert, action: Action, tries: str) -> tuple[Flash, str | None]:
        """The banner after a submission, and the refresh that polls for the agent's answer."""
        zh, en = STATUS_LABELS[RESULTS[action]]
        if reached(alert, action):
            return Flash("ok", f"已生效：{zh} · Applied: {en}"), None
        n = int(tries) if tries.isdigit() else POLL_TRIES
        if n < POLL_TRIES:
            query = urlencode({"submitted": action, "n": n + 1})
            url = f"{alert_path(self.base, alert.incident_id)}?{query}"
            return (Flash("wait", "已提交，等待处理… · Submitted — waiting for the incident "
                                  "agent to apply it."), f"{POLL_EVERY_S};url={url}")
        return Flash("error", "尚未生效：事件处理程序还未确认此操作，请稍后刷新。 · Not applied "
                              "yet: the incident agent has not confirmed it; refresh later."), None

    def _detail(self, alert: Alert, request: web.Request, account: Account, *,
                flash: Flash | None = None, refresh: str | None = None,
                form: FormState = EMPTY_FORM, command_id: str | None = None) -> str:
        command_ids = {a: str(uuid.uuid4()) for a in ACTIONS}
        if form.action is not None and command_id is not None:
            command_ids[form.action] = command_id
        acting = Acting(may_act=account.may_act(alert), ask_actor=account.shared,
                        name=account.name)
        return detail_page(alert, self.clock(), base=self.base, csrf=self._csrf(request),
                           command_ids=command_ids, flash=flash, form=form,
                           show_actions=refresh is None, refresh=refresh, viewer=account,
                           acting=acting)

    async def form_action(self, request: web.Request, incident_id: str,
                          action: str) -> web.Response:
        gate = self._gate(request, api=False)
        if isinstance(gate, web.Response):
            return gate
        account = gate.account
        form = await request.post()
        if gate.via == "cookie" and not cast(ConsoleAuth, self.auth).check_csrf(
                request.cookies.get(SESSION_COOKIE), _field(form, "csrf")):
            self._audit(gate, action, incident_id, None, "refused: CSRF check failed", 403)
            return _html(message_page("请求已拒绝 Request refused",
                                      "CSRF 校验失败，请刷新页面后重试。 CSRF check failed: "
                                      "reload the page and try again.", base=self.base,
                                      viewer=account), 403)
        act = parse_action(action)
        alert = await self.reader.get(incident_id)
        if act is None or alert is None:
            return self._not_found(incident_id)
        if not account.may_act(alert):
            self._audit(gate, act, incident_id, alert, "refused: community not assigned", 403)
            if not account.sees(alert):
                return self._refused_page(account, alert)
            return _html(self._detail(alert, request, account,
                                      flash=Flash("error", _not_assigned(account, alert))), 403)
        raw_actor, raw_note = _field(form, "actor") or "", _field(form, "note") or ""
        state = FormState(action=act, actor=raw_actor.strip(), note=raw_note)
        command_id = _uuid_or_new(_field(form, "command_id"))
        actor = clean_actor(raw_actor) if account.shared else account.name
        note = clean_note(raw_note)
        problem = self._problem(alert, act, actor, note)
        if problem is not None:
            status, text = problem
            self._audit(gate, act, incident_id, alert, f"refused: {text}", status)
            return _html(self._detail(alert, request, account, flash=Flash("error", text),
                                      form=state, command_id=command_id), status)
        command = self._command(alert, act, cast(str, actor), cast(str, note), command_id)
        if not await self._send(command):
            self._audit(gate, act, incident_id, alert, "failed: could not send", 503, command)
            text = "提交失败，请重试。 · Could not submit the command; try again."
            return _html(self._detail(alert, request, account, flash=Flash("error", text),
                                      form=state, command_id=command_id), 503)
        self._audit(gate, act, incident_id, alert, "submitted", 303, command)
        query = urlencode({"submitted": act})
        response = _redirect(f"{alert_path(self.base, incident_id)}?{query}")
        response.set_cookie(ACTOR_COOKIE, quote(command.actor, safe=""), path=f"{self.base}/",
                            max_age=30 * 86_400, httponly=True, samesite="Strict",
                            secure=self.secure)
        return response

    def _not_found(self, incident_id: str) -> web.Response:
        return _html(message_page("未找到 Not found", f"没有事件 No incident: {incident_id}",
                                  base=self.base), 404)

    # -- commands -----------------------------------------------------------

    @staticmethod
    def _problem(alert: Alert, action: Action, actor: str | None,
                 note: str | None) -> tuple[int, str] | None:
        """Why a submission cannot become a command (HTTP status, message), or None."""
        if actor is None:
            return 400, "请填写处理人（最多 64 字）。 · 'who' is required (at most 64 characters)."
        if note is None:
            return 400, "备注过长（最多 1000 字）。 · The note is too long (max. 1000 characters)."
        if not allowed(alert, action):
            zh, en = STATUS_LABELS[alert.status]
            return 409, (f"当前状态为「{zh}」，不能执行此操作。 · The incident is {en}: "
                         f"{action} does not apply now.")
        return None

    def _command(self, alert: Alert, action: Action, actor: str, note: str,
                 command_id: str) -> IncidentCommand:
        return IncidentCommand(command_id=command_id, kind=action,
                               incident_id=alert.incident_id, community_id=alert.community_id,
                               actor=actor, note=note, issued_at=self.clock())

    async def _send(self, command: IncidentCommand) -> bool:
        try:
            await self.sender.send(command)
        except Exception:
            log.exception("console: could not send %s for %s", command.kind, command.incident_id)
            return False
        log.info("console: %s %s by %s (command %s)", command.kind, command.incident_id,
                 command.actor, command.command_id)
        return True

    # -- JSON API -----------------------------------------------------------

    async def api_me(self, request: web.Request) -> web.Response:
        gate = self._gate(request, api=True)
        if isinstance(gate, web.Response):
            return gate
        return _json({**gate.account.describe(), "via": gate.via})

    async def api_list(self, request: web.Request) -> web.Response:
        gate = self._gate(request, api=True)
        if isinstance(gate, web.Response):
            return gate
        account = gate.account
        recent = request.query.get("recent")
        if recent is not None:
            if not recent.isdigit() or not 1 <= int(recent) <= MAX_RECENT:
                return _json({"error": f"recent must be 1..{MAX_RECENT}"}, status=400)
            wanted = int(recent)
            fetched = await self.reader.recent_alerts(wanted if account.admin else MAX_RECENT)
            alerts = [a for a in fetched if account.sees(a)][:wanted]
        else:
            alerts = sorted((a for a in await self.reader.open_alerts() if account.sees(a)),
                            key=sort_key)
        return _json([a.model_dump(mode="json") for a in alerts])

    async def api_get(self, request: web.Request, incident_id: str) -> web.Response:
        gate = self._gate(request, api=True)
        if isinstance(gate, web.Response):
            return gate
        alert = await self.reader.get(incident_id)
        if alert is None:
            return _json({"error": f"no incident {incident_id}"}, status=404)
        if not gate.account.sees(alert):
            return _json({"error": _not_assigned(gate.account, alert)}, status=403)
        return _json(alert.model_dump(mode="json"))

    async def api_action(self, request: web.Request, incident_id: str,
                         action: str) -> web.Response:
        gate = self._gate(request, api=True)
        if isinstance(gate, web.Response):
            return gate
        account = gate.account
        if gate.via != "bearer":
            self._audit(gate, action, incident_id, None, "refused: cookie on the API", 403)
            return _json({"error": "API writes need Authorization: Bearer <token>"}, status=403)
        act = parse_action(action)
        if act is None:
            return _json({"error": f"unknown action {action!r}; one of {list(ACTIONS)}"},
                         status=404)
        alert = await self.reader.get(incident_id)
        if alert is None:
            return _json({"error": f"no incident {incident_id}"}, status=404)
        if not account.may_act(alert):
            self._audit(gate, act, incident_id, alert, "refused: community not assigned", 403)
            return _json({"error": _not_assigned(account, alert)}, status=403)
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object"}, status=400)
        given = body.get("actor") if isinstance(body.get("actor"), str) else None
        if not account.shared and given is not None and given.strip() not in ("", account.name):
            text = (f"you act as {account.name}: an action cannot be recorded under another "
                    f"name ({given.strip()!r}); omit actor")
            self._audit(gate, act, incident_id, alert, f"refused: {text}", 403)
            return _json({"error": text}, status=403)
        actor = clean_actor(given) if account.shared else account.name
        note = clean_note(body.get("note") if isinstance(body.get("note"), str) else None)
        problem = self._problem(alert, act, actor, note)
        if problem is not None:
            status, text = problem
            self._audit(gate, act, incident_id, alert, f"refused: {text}", status)
            return _json({"error": text, "status": alert.status}, status=status)
        command_id = body.get("command_id")
        command = self._command(alert, act, cast(str, actor), cast(str, note),
                                _uuid_or_new(command_id if isinstance(command_id, str) else None))
        if not await self._send(command):
            self._audit(gate, act, incident_id, alert, "failed: could not send", 503, command)
            return _json({"error": "could not submit the command; try again"}, status=503)
        self._audit(gate, act, incident_id, alert, "submitted", 202, command)
        return _json({"status": "submitted", "incident_id": alert.incident_id, "kind": act,
                      "command_id": command.command_id, "actor": command.actor}, status=202)


def _not_assigned(account: Account, alert: Alert) -> str:
    return (f"无权操作：事件 {alert.incident_id} 归属社群 {alert.community_id}，未分配给 "
            f"{account.name}。 · Not permitted: incident {alert.incident_id} belongs to "
            f"community {alert.community_id}, which is not assigned to {account.name}.")


def register(app: faust.App, reader: AlertReader, sender: CommandSender, access: AccessPolicy,
             public_url: str, clock: Callable[[], datetime] = utc_now) -> Console:
    """Add the console pages and the JSON API to ``app``'s web server.

    ``access`` without accounts keeps the routes but answers 503 to everything.
    Links and cookies use the path of ``public_url`` as prefix (a reverse proxy
    that strips it); an https ``public_url`` makes the cookies Secure.
    """
    console = Console(reader, sender, access, public_url, clock)

    @app.page("/console", name="console_list")
    class ConsoleList(View):
        async def get(self, request: Request) -> Response:
            return cast(Response, await console.list_page(cast(web.Request, request)))

    @app.page("/console/login", name="console_login")
    class ConsoleLogin(View):
        async def post(self, request: Request) -> Response:
            return cast(Response, await console.login(cast(web.Request, request)))

    @app.page("/console/alerts/{incident_id}", name="console_alert")
    class ConsoleAlert(View):
        async def get(self, request: Request, incident_id: str) -> Response:
            return cast(Response, await console.detail(cast(web.Request, request), incident_id))

    @app.page("/console/alerts/{incident_id}/{action}", name="console_action")
    class ConsoleAction(View):
        async def post(self, request: Request, incident_id: str, action: str) -> Response:
            response = await console.form_action(cast(web.Request, request), incident_id, action)
            return cast(Response, response)

    @app.page("/api/me", name="api_me")
    class ApiMe(View):
        async def get(self, request: Request) -> Response:
            return cast(Response, await console.api_me(cast(web.Request, request)))

    @app.page("/api/alerts", name="api_alerts")
    class ApiAlerts(View):
        async def get(self, request: Request) -> Response:
            return cast(Response, await console.api_list(cast(web.Request, request)))

    @app.page("/api/alerts/{incident_id}", name="api_alert")
    class ApiAlert(View):
        async def get(self, request: Request, incident_id: str) -> Response:
            return cast(Response, await console.api_get(cast(web.Request, request), incident_id))

    @app.page("/api/alerts/{incident_id}/{action}", name="api_action")
    class ApiAction(View):
        async def post(self, request: Request, incident_id: str, action: str) -> Response:
            response = await console.api_action(cast(web.Request, request), incident_id, action)
            return cast(Response, response)

    return console
