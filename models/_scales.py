"""Scales shared by the survey, the physician opinion and the 一次判定 interface.

TODO: replace with rules.primary_determination enums (being written concurrently); until then these
private stand-ins keep models/survey.py, models/physician_opinion.py and models/alwaysj.py importable.
"""

from __future__ import annotations

from enum import StrEnum


class DementiaIndependence(StrEnum):
    """認知症高齢者の日常生活自立度."""

    INDEPENDENT = "自立"
    I = "I"  # noqa: E741  (the rank's official name)
    IIA = "IIa"
    IIB = "IIb"
    IIIA = "IIIa"
    IIIB = "IIIb"
    IV = "IV"
    M = "M"


class PhysicalIndependence(StrEnum):
    """障害高齢者の日常生活自立度 (寝たきり度)."""

    INDEPENDENT = "自立"
    J1 = "J1"
    J2 = "J2"
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class CareLevel(StrEnum):
    """要介護状態区分 (including 非該当)."""

    NOT_APPLICABLE = "非該当"
    SUPPORT_1 = "要支援1"
    SUPPORT_2 = "要支援2"
    CARE_1 = "要介護1"
    CARE_2 = "要介護2"
    CARE_3 = "要介護3"
    CARE_4 = "要介護4"
    CARE_5 = "要介護5"
