"""Pregnancy dating: estimated due date, estimated date of conception, gestational age."""

from __future__ import annotations

import datetime


def due_date(last_menstrual_period: datetime.date, cycle_length: int = 28) -> datetime.date:
    """Estimated due date, Naegele's rule with cycle adjustment: LMP + 280 days + (cycle - 28) days.

    A longer cycle moves ovulation, and so the due date, later; a shorter cycle earlier.
    Source: Naegele FC. Lehrbuch der Geburtshülfe, 1830; ACOG Committee Opinion 700, Methods for
    estimating the due date, Obstet Gynecol 2017;129:e150-e154; MDCalc "Pregnancy Due Dates
    Calculator".
    """
    return last_menstrual_period + datetime.timedelta(days=280 + (cycle_length - 28))


def conception_date(last_menstrual_period: datetime.date) -> datetime.date:
    """Estimated date of conception: LMP + 2 weeks (ovulation on day 14 of the cycle).

    Source: ACOG Committee Opinion 700 (2017): gestational age counts from the LMP, about two weeks
    before conception; MDCalc "Pregnancy Due Dates Calculator" (conception = LMP + 14 days).
    """
    return last_menstrual_period + datetime.timedelta(days=14)


def gestational_age(last_menstrual_period: datetime.date, current_date: datetime.date) -> tuple[int, int]:
    """Gestational age by dates, as (completed weeks, days): the days since the LMP, divided by 7.

    Source: ACOG Committee Opinion 700 (2017); MDCalc "Pregnancy Due Dates Calculator".
    """
    days = (current_date - last_menstrual_period).days
    return days // 7, days % 7
