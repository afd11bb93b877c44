"""Group chat over the simulated period, one community at a time.

Member posts arrive as a Poisson process whose rate follows the Shanghai
daily rhythm and a slowly drifting mood (bursty, like real groups).  What a
post says depends on the conversation so far: answers reply to open
questions, copy-paste chains repeat a recent text, red packets draw thanks,
staff announcements draw "收到".  Scheduled staff posts, bot welcomes,
newcomer introductions, spam ads and the planned negative episodes are merged
in by event time through one heap.  Injected anomalies (``anomalies``) add
member posts (a chatter burst) or quieten members (a quiet spell).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from dataclasses import dataclass
from itertools import accumulate, count
from typing import TYPE_CHECKING

from pipeline.devtools.generator import vocabulary as vocab
from pipeline.devtools.generator.campaigns import Campaign, shanghai_when
from pipeline.devtools.generator.clock import (
    CHAT_RHYTHM,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SECOND_MS,
    poisson,
    rhythm,
    shanghai_day_start,
    shanghai_hour,
)
from pipeline.devtools.generator.episodes import Episode, PlannedMessage
from pipeline.devtools.generator.pii import PiiText, member_pii_text, spam_text
from pipeline.devtools.generator.world import NEVER, Community, Membership, World

if TYPE_CHECKING:
    from pipeline.devtools.generator.anomalies import Injection

BASE_RATE_PER_MINUTE = 3.6
"""Member posts per minute in a community of average activity, at an average hour, scale 1."""

MOOD_KEEP, MOOD_SIGMA = 0.8, 0.2
"""Group mood: an AR(1) on the log rate every 10 minutes, so activity comes in bursts."""
_MOOD_MEAN = MOOD_SIGMA**2 / (1 - MOOD_KEEP**2) / 2
"""Subtracted so that bursts do not change the average rate (E[exp(N(0, v))] = exp(v/2))."""

TEXT_MIX: tuple[tuple[str, float], ...] = (
    ("mechanical", 0.10), ("copy", 0.02), ("answer", 0.12), ("reply", 0.08),
    ("question", 0.11), ("share", 0.08), ("discussion", 0.16), ("greeting", 0.06),
    ("chitchat", 0.16), ("positive", 0.05), ("mood", 0.008), ("pii", 0.006),
)
_TEXT_KINDS = tuple(kind for kind, _ in TEXT_MIX)
_TEXT_CUMULATIVE = tuple(accumulate(w / sum(w for _, w in TEXT_MIX) for _, w in TEXT_MIX))

(MEMBER, PLANNED, STAFF, SYSTEM_JOIN, WELCOME, INTRO, SPAM, LAST_WORDS, STAFF_ANSWER,
 BOT_REPLY, THANKS, ACK) = range(12)


@dataclass(slots=True)
class Message:
    ts: int
    message_id: str
    community: int
    member_id: str
    role: str
    msg_type: str
    text: str
    reply_to: str | None = None
    mentions: tuple[str, ...] = ()
    mechanical: bool = False
    """Sticker-only, 收到/+1/好的/打卡, thanks for red packets, or copy-paste."""
    pii: PiiText | None = None
    question: bool = False
    episode: bool = False


class _CommunityChat:
    def __init__(self, world: World, community: Community, planned: list[PlannedMessage],
                 campaigns: list[Campaign], episode_of: dict[int, Episode],
                 injections: list[Injection] | None = None) -> None:
        self.world = world
        self.episode_of = episode_of
        self.community = community
        self.theme = community.theme
        self.rng = world.rng(f"chat/{community.index}")
        self.planned = planned
        self.campaigns = [c for c in campaigns if c.community == community.index]
        self.prefix = f"msg-{community.index + 1:02d}-"
        self.seq = count()
        self.items: list[tuple[int, int, int, object]] = []
        self.messages: list[Message] = []
        self.recent: deque[Message] = deque(maxlen=30)
        self.questions: deque[Message] = deque(maxlen=8)
        self.chain: tuple[str, int] | None = None
        self.injections = [i for i in injections or () if i.community == community.index]
        self.spells = [i for i in self.injections if i.quiet]

    # scheduling

    def push(self, ms: int, kind: int, payload: object = None) -> None:
        if self.world.start_ms <= ms < self.world.end_ms:
            heapq.heappush(self.items, (ms, next(self.seq), kind, payload))

    def _schedule(self) -> list[tuple[int, int, int, object]]:
        rng, world = self.rng, self.world
        items = []
        base = BASE_RATE_PER_MINUTE * self.community.activity * world.config.scale
        mood = 0.0
        minutes = math.ceil((world.end_ms - world.start_ms) / MINUTE_MS)
        for minute in range(minutes):
            if minute % 10 == 0:
                mood = MOOD_KEEP * mood + rng.gauss(0.0, MOOD_SIGMA)
            ms = world.start_ms + minute * MINUTE_MS
            for _ in range(poisson(rng, base * rhythm(CHAT_RHYTHM, ms + 30 * SECOND_MS)
                                   * math.exp(mood - _MOOD_MEAN))):
                at = ms + rng.randrange(MINUTE_MS)
                if at < world.end_ms:
                    items.append((at, next(self.seq), MEMBER, None))
        for ms, slot in self._staff_slots():
            items.append((ms, next(self.seq), STAFF, slot))
        for member in self.community.memberships:
            self._schedule_member(items, member)
        for message in self.planned:
            items.append((message.ts, next(self.seq), PLANNED, message))
        if self.injections:
            items = self._inject(items, base)
        return [item for item in items if world.start_ms <= item[0] < world.end_ms]

    def _inject(self, items: list[tuple[int, int, int, object]],
                base: float) -> list[tuple[int, int, int, object]]:
        """Chatter bursts add member posts; quiet spells drop the quiet members' share."""
        rng = self.world.rng(f"anomalies/chat/{self.community.index}")
        for burst in self.injections:
            if not burst.adds_posts:
                continue
            for ms in range(burst.start_ms - burst.start_ms % MINUTE_MS, burst.end_ms, MINUTE_MS):
                extra = (burst.factor - 1) * base * rhythm(CHAT_RHYTHM, ms + 30 * SECOND_MS)
                for _ in range(poisson(rng, extra * burst.envelope(ms + 30 * SECOND_MS))):
                    at = ms + rng.randrange(MINUTE_MS)
                    if burst.envelope(at) > 0:
                        items.append((at, next(self.seq), MEMBER, None))
        if not self.spells:
            return items
        weights = {m.member_id: m.weight for m in self.community.memberships}
        kept = []
        for item in items:
            ms, _, kind, _ = item
            spell = self._spell(ms) if kind == MEMBER else None
            if spell is not None:
                quiet = sum(weights[m] for m, (lo, hi) in spell.quiet.items() if lo <= ms < hi)
                if rng.random() * spell.weight < quiet:
                    continue  # the post a quiet member would have written
            kept.append(item)
        return kept

    def _spell(self, ms: int) -> Injection | None:
        for spell in self.spells:
            if spell.start_ms <= ms < spell.end_ms:
                return spell
        return None

    def _poster(self, ms: int) -> Membership | None:
        """A member who can post at ``ms`` (and is not quiet in a spell), by chattiness."""
        spell = self._spell(ms) if self.spells else None
        if spell is None:
            return self.community.pick_poster(self.rng, ms)
        return self.community.pick_poster(self.rng, ms,
                                          quiet=lambda member_id: spell.is_quiet(member_id, ms))

    def _can_post(self, member: Membership, ms: int) -> bool:
        spell = self._spell(ms) if self.spells else None
        return member.can_post(ms) and (spell is None or not spell.is_quiet(member.member_id, ms))

    def _staff_slots(self) -> list[tuple[int, str]]:
        """The "3+2" rhythm: 9:00, 12:00 and 20:00 every day, plus two flexible posts."""
        rng, world = self.rng, self.world
        slots = []
        day = shanghai_day_start(world.start_ms)
        number = 0
        while day < world.end_ms:
            morning = "announcement" if number % 3 == 0 else "morning"
            slots.append((day + 9 * HOUR_MS + rng.randint(-2, 4) * MINUTE_MS, morning))
            slots.append((day + 12 * HOUR_MS + rng.randint(-2, 5) * MINUTE_MS, "noon"))
            slots.append((day + 20 * HOUR_MS + rng.randint(-2, 5) * MINUTE_MS, "evening"))
            if rng.random() < 0.6:
                slots.append((day + rng.randint(15 * 60, 17 * 60 + 30) * MINUTE_MS, "noon"))
            if rng.random() < 0.5:
                slots.append((day + rng.randint(21 * 60, 22 * 60 + 30) * MINUTE_MS, "evening"))
            day += DAY_MS
            number += 1
        for campaign in self.campaigns:
            slots.append((campaign.activity_ms - HOUR_MS, f"reminder:{campaign.campaign_id}"))
        return slots

    def _schedule_member(self, items: list[tuple[int, int, int, object]],
                         member: Membership) -> None:
        rng, world = self.rng, self.world
        if not member.initial and world.start_ms <= member.join_ms:
            if rng.random() < 0.6:
                items.append((member.join_ms + rng.randint(0, 1500), next(self.seq),
                              SYSTEM_JOIN, member))
            if rng.random() < 0.8:
                items.append((member.join_ms + rng.randint(3, 30) * SECOND_MS, next(self.seq),
                              WELCOME, member))
            if not member.spammer and rng.random() < 0.35:
                items.append((member.join_ms + rng.randint(MINUTE_MS, 15 * MINUTE_MS),
                              next(self.seq), INTRO, member))
        if member.spammer and member.ad_ms != NEVER:
            items.append((member.ad_ms, next(self.seq), SPAM, member))
        if member.silent_from != NEVER:
            last = member.silent_from - rng.randint(5 * MINUTE_MS, 90 * MINUTE_MS)
            if last >= max(world.start_ms, member.join_ms):
                items.append((last, next(self.seq), LAST_WORDS, member))

    # posting

    def emit(self, ms: int, member_id: str, role: str, msg_type: str, text: str, *,
             reply_to: str | None = None, mentions: tuple[str, ...] = (),
             mechanical: bool = False, pii: PiiText | None = None, question: bool = False,
             episode: bool = False) -> Message:
        message = Message(ms, self.world.ids.next(self.prefix), self.community.index,
                          member_id, role, msg_type, text, reply_to, mentions, mechanical, pii,
                          question, episode)
        self.messages.append(message)
        return message

    def run(self) -> list[Message]:
        self.items = self._schedule()
        heapq.heapify(self.items)
        handlers = {
            MEMBER: self._member, PLANNED: self._planned, STAFF: self._staff,
            SYSTEM_JOIN: self._system_join, WELCOME: self._welcome, INTRO: self._intro,
            SPAM: self._spam, LAST_WORDS: self._last_words, STAFF_ANSWER: self._staff_answer,
            BOT_REPLY: self._bot_reply, THANKS: self._thanks, ACK: self._ack,
        }
        while self.items:
            ms, _, kind, payload = heapq.heappop(self.items)
            handlers[kind](ms, payload)
        return self.messages

    def _nick(self, member_id: str) -> str:
        return self.world.nick(member_id)

    def _member(self, ms: int, _: object) -> None:
        rng = self.rng
        member = self._poster(ms)
        if member is None:
            return
        if self.chain is not None and rng.random() < 0.55:
            text, left = self.chain
            self.chain = (text, left - 1) if left > 1 else None
            self.emit(ms, member.member_id, "member", "text", text, mechanical=True)
            return
        r = rng.random()
        if r < 0.065:
            self.emit(ms, member.member_id, "member", "image", "")
        elif r < 0.12:
            self.emit(ms, member.member_id, "member", "sticker", rng.choice(vocab.STICKERS),
                      mechanical=True)
        elif r < 0.14:
            self._remember(self.emit(ms, member.member_id, "member", "link",
                                     vocab.link(rng, self.theme)))
        elif r < 0.145:
            self.emit(ms, member.member_id, "member", "red_packet", rng.choice(vocab.RED_PACKETS))
            for _ in range(rng.randint(2, 6)):
                self.push(ms + rng.randint(3 * SECOND_MS, 2 * MINUTE_MS), THANKS)
        else:
            kind = _TEXT_KINDS[bisect.bisect_left(_TEXT_CUMULATIVE, rng.random())]
            self._text(ms, member, kind)

    def _text(self, ms: int, member: Membership, kind: str) -> None:
        rng, theme, me = self.rng, self.theme, member.member_id
        if kind == "mechanical":
            self.emit(ms, me, "member", "text", vocab.mechanical(rng, theme), mechanical=True)
            return
        if kind == "copy":
            sources = [m for m in self.recent
                       if m.role == "member" and m.member_id != me and not m.question
                       and m.msg_type == "text" and len(m.text) >= 4]
            if sources:
                text = rng.choice(sources).text
                self.emit(ms, me, "member", "text", text, mechanical=True)
                if rng.random() < 0.5:
                    self.chain = (text, rng.randint(1, 4))
                return
            kind = "chitchat"
        if kind == "answer":
            open_questions = [q for q in self.questions
                              if q.member_id != me and q.ts >= ms - 30 * MINUTE_MS]
            if open_questions:
                question = rng.choice(open_questions)
                text, mentions = vocab.answer(rng, theme), ()
                if rng.random() < 0.3:
                    text = f"@{self._nick(question.member_id)} {text}"
                    mentions = (question.member_id,)
                self._remember(self.emit(ms, me, "member", "text", text,
                                         reply_to=question.message_id, mentions=mentions))
                return
            kind = "discussion"
        if kind == "reply":
            targets = [m for m in self.recent if m.member_id != me]
            if targets:
                target = rng.choice(targets[-12:])
                write = vocab.chitchat if rng.random() < 0.6 else vocab.answer
                text = write(rng, theme)
                self._remember(self.emit(ms, me, "member", "text", text,
                                         reply_to=target.message_id))
                return
            kind = "chitchat"
        if kind == "question":
            text = vocab.question(rng, theme)
            mentions: tuple[str, ...] = ()
            if rng.random() < 0.15:
                staff = rng.choice(self.community.staff_ids)
                text, mentions = f"@{self._nick(staff)} {text}", (staff,)
            message = self.emit(ms, me, "member", "text", text, mentions=mentions, question=True)
            self._remember(message)
            self.questions.append(message)
            if rng.random() < 0.25:
                self.push(ms + rng.randint(MINUTE_MS, 20 * MINUTE_MS), STAFF_ANSWER, message)
            if any(t in text for t in vocab.BOT_TRIGGERS) and rng.random() < 0.6:
                self.push(ms + rng.randint(SECOND_MS, 4 * SECOND_MS), BOT_REPLY, message)
            return
        if kind == "pii":
            pii = member_pii_text(rng, theme)
            self.emit(ms, me, "member", "text", pii.text, pii=pii)
            return
        writers = {
            "share": vocab.share, "discussion": vocab.discussion, "chitchat": vocab.chitchat,
            "positive": vocab.positive,
        }
        if kind == "greeting":
            text = vocab.greeting(rng, shanghai_hour(ms))
        elif kind == "mood":
            text = vocab.mood(rng)
        else:
            text = writers[kind](rng, theme)
        mentions = ()
        if self.recent and rng.random() < 0.04:
            other = rng.choice(self.recent).member_id
            if other != me:
                text, mentions = f"@{self._nick(other)} {text}", (other,)
        self._remember(self.emit(ms, me, "member", "text", text, mentions=mentions))

    def _remember(self, message: Message) -> None:
        self.recent.append(message)

    def _planned(self, ms: int, planned: PlannedMessage) -> None:
        reply_to = None
        if planned.reply_to is not None:
            reply_to = self.episode_of[id(planned)].messages[planned.reply_to].message_id
        message = self.emit(ms, planned.member_id, planned.role, "text", planned.text,
                            reply_to=reply_to, mentions=planned.mentions,
                            episode=planned.in_episode)
        planned.message_id = message.message_id

    def _staff(self, ms: int, slot: str) -> None:
        rng = self.rng
        staff = self.community.staff_ids[0 if rng.random() < 0.7 else 1]
        if slot == "announcement":
            text = vocab.staff_announcement(rng, self.theme, self._nick(staff))
        elif slot.startswith("reminder:"):
            campaign = next(c for c in self.campaigns if slot.endswith(c.campaign_id))
            text = vocab.staff_campaign_notice(rng, self.theme, campaign.title, "1小时后")
        else:
            running = [c for c in self.campaigns if c.lo_ms <= ms < c.activity_ms]
            if slot == "evening" and running:
                campaign = rng.choice(running)
                text = vocab.staff_campaign_notice(rng, self.theme, campaign.title,
                                                   shanghai_when(campaign.activity_ms))
            else:
                text = vocab.staff_post(rng, self.theme, slot)
        self._remember(self.emit(ms, staff, "staff", "text", text))
        for _ in range(poisson(rng, 2.5)):
            self.push(ms + rng.randint(20 * SECOND_MS, 6 * MINUTE_MS), ACK)

    def _system_join(self, ms: int, member: Membership) -> None:
        inviter = self._nick(member.inviter_id) if member.inviter_id else None
        text = vocab.system_join(self.rng, self.community.platform, self._nick(member.member_id),
                                 inviter)
        self.emit(ms, self.community.system_id, "bot", "system", text)

    def _welcome(self, ms: int, member: Membership) -> None:
        text = vocab.bot_welcome(self.rng, self.theme, self._nick(member.member_id))
        self.emit(ms, self.community.bot_id, "bot", "text", text, mentions=(member.member_id,))

    def _intro(self, ms: int, member: Membership) -> None:
        if self._can_post(member, ms):
            self._remember(self.emit(ms, member.member_id, "member", "text",
                                     vocab.newbie(self.rng, self.theme)))

    def _spam(self, ms: int, member: Membership) -> None:
        pii = spam_text(self.rng, self.theme)
        self.emit(ms, member.member_id, "member", "text", pii.text, pii=pii)

    def _last_words(self, ms: int, member: Membership) -> None:
        if self._can_post(member, ms):
            self._text(ms, member, self.rng.choice(("discussion", "chitchat", "share")))

    def _staff_answer(self, ms: int, question: Message) -> None:
        staff = self.rng.choice(self.community.staff_ids)
        text = vocab.staff_answer(self.rng, self.theme, self._nick(question.member_id))
        self._remember(self.emit(ms, staff, "staff", "text", text, reply_to=question.message_id,
                                 mentions=(question.member_id,)))

    def _bot_reply(self, ms: int, question: Message) -> None:
        self.emit(ms, self.community.bot_id, "bot", "text",
                  vocab.bot_auto_reply(self.rng, self.theme), reply_to=question.message_id)

    def _thanks(self, ms: int, _: object) -> None:
        member = self._poster(ms)
        if member is not None:
            self.emit(ms, member.member_id, "member", "text", self.rng.choice(vocab.THANKS),
                      mechanical=True)

    def _ack(self, ms: int, _: object) -> None:
        member = self._poster(ms)
        if member is not None:
            self.emit(ms, member.member_id, "member", "text",
                      self.rng.choice(vocab.MECHANICAL[:8]), mechanical=True)


def simulate_chat(world: World, episodes: list[Episode], campaigns: list[Campaign],
                  injections: list[Injection] | None = None) -> list[Message]:
    """All chat messages, per community in event-time order; fills episode message ids."""
    episode_of = {id(m): e for e in episodes for m in e.messages}
    messages: list[Message] = []
    for community in world.communities:
        planned = [m for e in episodes for m in e.messages if m.community == community.index]
        messages.extend(_CommunityChat(world, community, planned, campaigns, episode_of,
                                       injections).run())
    return messages
