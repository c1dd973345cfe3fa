"""Opening hours: when the team is in, when it is next in, and what a handed-over customer is told."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.opening_hours import OpeningHours, QueueStatus, handoff_notice, parse_ranges
from agent.settings import load_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = {day: "09:00-12:00,13:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
HOURS = OpeningHours(timezone="Asia/Shanghai", sat="", sun="", holidays=(date(2026, 10, 1),), **WEEKDAYS)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_the_default_is_always_open() -> None:
    assert OpeningHours().opens_at(datetime(2026, 12, 6, 3, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        (at(2026, 12, 1, 10, 0), None),  # Tuesday morning
        (at(2026, 12, 1, 9, 0), None),  # the first minute counts
        (at(2026, 12, 1, 12, 30), at(2026, 12, 1, 13, 0)),  # lunch break
        (at(2026, 12, 1, 18, 0), at(2026, 12, 2, 9, 0)),  # closing time: tomorrow morning
        (at(2026, 12, 4, 20, 0), at(2026, 12, 7, 9, 0)),  # Friday evening: Monday
        (at(2026, 12, 5, 11, 0), at(2026, 12, 7, 9, 0)),  # Saturday
        (at(2026, 9, 30, 19, 0), at(2026, 10, 2, 9, 0)),  # the evening before a holiday
        (at(2026, 10, 1, 10, 0), at(2026, 10, 2, 9, 0)),  # on the holiday itself
    ],
)
def test_opens_at(now: datetime, opens: datetime | None) -> None:
    assert HOURS.opens_at(now) == opens


def test_the_clock_is_read_in_the_hours_time_zone() -> None:
    # 02:00 UTC is 10:00 in Shanghai (open); 11:00 UTC is 19:00 there (closed until 09:00 next day).
    assert HOURS.opens_at(datetime(2026, 12, 1, 2, 0, tzinfo=UTC)) is None
    assert HOURS.opens_at(datetime(2026, 12, 1, 11, 0, tzinfo=UTC)) == at(2026, 12, 2, 9, 0)


def test_a_day_open_until_midnight() -> None:
    late = OpeningHours(mon="20:00-24:00", tue="")
    assert late.opens_at(datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) is None  # a Monday
    assert late.opens_at(datetime(2026, 12, 1, 0, 0, tzinfo=UTC)) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # Wed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"mon": "9-5"}, "not written like"),
        ({"mon": "18:00-09:00"}, "end before they start"),
        ({"mon": "25:00-26:00"}, "not times of day"),
        ({day: "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}, "closed every day"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OpeningHours(**fields)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINDESK_OPENING_HOURS__TIMEZONE", "Europe/London")
    monkeypatch.setenv("FINDESK_OPENING_HOURS__SAT", "")
    monkeypatch.setenv("FINDESK_OPENING_HOURS__HOLIDAYS", '["2026-12-25"]')
    hours = load_settings().opening_hours
    assert hours.timezone == "Europe/London" and hours.sat == "" and hours.holidays == (date(2026, 12, 25),)


def test_parse_ranges_sorts_and_allows_closed_days() -> None:
    assert parse_ranges("") == []
    assert [str(start) for start, _ in parse_ranges("13:00-18:00, 09:00-12:00")] == ["09:00:00", "13:00:00"]


def test_notice_inside_hours_gives_the_place_in_the_queue() -> None:
    now = at(2026, 12, 1, 10, 0)
    assert "number 3 in the queue" in handoff_notice(QueueStatus(3, None), now, "en")
    assert "第 3 位" in handoff_notice(QueueStatus(3, None), now, "zh")
    assert "has this conversation" in handoff_notice(QueueStatus(0, None), now, "en")


def test_notice_outside_hours_says_when_a_person_will_reply() -> None:
    evening = at(2026, 12, 1, 19, 0)
    assert "from tomorrow 09:00 (CST)" in handoff_notice(QueueStatus(1, HOURS.opens_at(evening)), evening, "en")
    friday = at(2026, 12, 4, 20, 0)
    assert "from Monday 2026-12-07 09:00" in handoff_notice(QueueStatus(1, HOURS.opens_at(friday)), friday, "en")
    assert "周一 2026-12-07 09:00" in handoff_notice(QueueStatus(1, HOURS.opens_at(friday)), friday, "zh")
    lunch = at(2026, 12, 1, 12, 30)
    assert "from today 13:00" in handoff_notice(QueueStatus(1, HOURS.opens_at(lunch)), lunch, "en")
