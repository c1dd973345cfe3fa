"""When a person can reply: opening hours per weekday, a time zone and holidays, and what a customer is told.

Handed over inside opening hours, the customer learns their place in the queue. Outside them, they learn
when a person will reply; the conversation still waits in the queue, so the first agent in sees it.

    [opening_hours]                       # or FINDESK_OPENING_HOURS__MON="09:00-12:00,13:00-18:00"
    timezone = "Asia/Shanghai"
    mon = "09:00-18:00"                   # "" = closed all day; "00:00-24:00" (the default) = always open
    sat = ""
    holidays = ["2026-10-01", "2026-10-02"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
ALWAYS = "00:00-24:00"
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_LOOKAHEAD_DAYS = 400  # a year of holidays and closed weekdays, and then some


def _day(name: str) -> Any:
    return Field(ALWAYS, description=f"{name} opening hours, e.g. '09:00-18:00' or '09:00-12:00,13:00-18:00'.")


class OpeningHours(BaseModel):
    """When the support team answers chats (FINDESK_OPENING_HOURS__*). The default: always open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("UTC", description="IANA time zone the hours are in, e.g. 'Asia/Shanghai'.")
    mon: str = _day("Monday")
    tue: str = _day("Tuesday")
    wed: str = _day("Wednesday")
    thu: str = _day("Thursday")
    fri: str = _day("Friday")
    sat: str = _day("Saturday")
    sun: str = _day("Sunday")
    holidays: tuple[date, ...] = Field((), description="Days closed all day (YYYY-MM-DD), in the time zone above.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/London'") from error
        return value

    @field_validator(*DAYS)
    @classmethod
    def _ranges(cls, value: str) -> str:
        parse_ranges(value)
        return value

    @model_validator(mode="after")
    def _open_sometime(self) -> OpeningHours:
        if not any(parse_ranges(getattr(self, day)) for day in DAYS):
            raise ValueError("the opening hours are closed every day; give at least one weekday some hours")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def ranges_on(self, day: date) -> list[tuple[time, time | None]]:
        """Open (start, end) times on a calendar day; an end of None means midnight at the day's end."""
        if day in self.holidays:
            return []
        return parse_ranges(getattr(self, DAYS[day.weekday()]))

    def opens_at(self, now: datetime) -> datetime | None:
        """None while open at `now` (an aware datetime); otherwise the next moment a person can reply."""
        local = now.astimezone(self.zone)
        for offset in range(_LOOKAHEAD_DAYS):
            day = local.date() + timedelta(days=offset)
            for start, end in self.ranges_on(day):
                opening = datetime.combine(day, start, self.zone)
                closing = datetime.combine(day + timedelta(days=end is None), end or time(0), self.zone)
                if local < closing:
                    return None if opening <= local else opening
        raise ValueError(f"no opening time in the next {_LOOKAHEAD_DAYS} days: check the holidays")


def parse_ranges(value: str) -> list[tuple[time, time | None]]:
    """'09:00-12:00,13:00-18:00' -> [(09:00, 12:00), (13:00, 18:00)]; '' -> closed; '24:00' ends the day."""
    ranges: list[tuple[time, time | None]] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"opening hours {part!r} are not written like '09:00-18:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"opening hours {part!r} are not times of day")
        start, end = time(h1, m1), (None if h2 == 24 else time(h2, m2))
        if end is not None and end <= start:
            raise ValueError(f"opening hours {part!r} end before they start (use two ranges across midnight)")
        ranges.append((start, end))
    return sorted(ranges, key=lambda r: r[0])


@dataclass(frozen=True)
class QueueStatus:
    """Where a handed-over conversation stands, for the customer."""

    position: int  # 1 = next to be picked up; 0 when a person has it already
    opens_at: datetime | None  # None while the team is in; else when a person will reply (the hours' zone)


_NOTICE = {
    "en": {
        "open": "I'm passing this conversation to a member of our team; they will reply here shortly. "
        "You are number {position} in the queue.",
        "closed": "Our team is away right now: a person will reply from {when} ({zone}). Your conversation is "
        "kept in the queue, so you can leave more details here meanwhile.",
        "claimed": "A member of our team has this conversation and will reply here.",
        "days": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "today": "today",
        "tomorrow": "tomorrow",
    },
    "zh": {
        "open": "我已将本次对话转给人工客服，客服人员稍后会在这里回复您。您目前排在第 {position} 位。",
        "closed": "现在是非工作时间，人工客服将于{when}（{zone}）起回复您。"
        "您的对话已在排队中，可以先在这里留下更多详情。",
        "claimed": "人工客服已接手本次对话，将在这里回复您。",
        "days": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
        "today": "今天",
        "tomorrow": "明天",
    },
}


def handoff_notice(status: QueueStatus, now: datetime, language: str) -> str:
    """What the customer reads once handed over: their place in the queue, or when a person will reply."""
    words = _NOTICE.get(language, _NOTICE["en"])
    if status.opens_at is None:
        return str(words["claimed"] if status.position == 0 else words["open"]).format(position=status.position)
    opens = status.opens_at
    days_ahead = (opens.date() - now.astimezone(opens.tzinfo).date()).days
    if days_ahead == 0:
        day = words["today"]
    elif days_ahead == 1:
        day = words["tomorrow"]
    else:
        day = f"{words['days'][opens.weekday()]} {opens:%Y-%m-%d}"
    return str(words["closed"]).format(when=f"{day} {opens:%H:%M}", zone=opens.tzname() or "")
