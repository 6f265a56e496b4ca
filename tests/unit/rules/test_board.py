"""介護認定審査会の合議体 (介護保険法施行令9条 and the city's 審査会規則): quorum and the vote."""

from __future__ import annotations

import pytest

from rules.board import BoardDecision, BoardOutcome, Vote, decide, has_quorum
from rules.primary_determination import CareLevel

C1, C2, C3 = CareLevel.CARE_1, CareLevel.CARE_2, CareLevel.CARE_3
CHAIR = "A"


def votes(*entries: tuple[str, CareLevel, int | None]) -> list[Vote]:
    return [Vote(member, level, months) for member, level, months in entries]


def test_seirei_9_unanimous_panel_of_five() -> None:
    result = decide(votes(("A", C2, 12), ("B", C2, 12), ("C", C2, 12), ("D", C2, 12), ("E", C2, 12)), CHAIR)
    assert result == BoardDecision(BoardOutcome.DECIDED, C2, 12)
    assert result.decided


def test_seirei_9_majority_of_those_present_decides() -> None:
    result = decide(votes(("A", C3, 12), ("B", C2, 12), ("C", C2, 24), ("D", C2, 12), ("E", C3, 12)), CHAIR)
    assert (result.level, result.validity_months) == (C2, 12)  # the chair is outvoted


@pytest.mark.parametrize(
    ("present", "chair_present", "panel_size", "quorum"),
    [
        (3, True, 5, True),
        (2, True, 5, False),  # 2 of 5 is not a majority
        (5, False, 5, False),  # chair absent
        (2, True, 3, True),  # minimum panel: 2 of 3
        (1, True, 3, False),
        (2, True, 4, False),  # half is not a majority
        (3, True, 4, True),
    ],
)
def test_seirei_9_quorum_chair_and_majority(
    present: int, chair_present: bool, panel_size: int, quorum: bool
) -> None:
    assert has_quorum(present, chair_present, panel_size) is quorum


def test_seirei_9_no_quorum_too_few_present() -> None:
    result = decide(votes(("A", C2, 12), ("B", C2, 12)), CHAIR, panel_size=5)
    assert result.outcome is BoardOutcome.NO_QUORUM
    assert result.level is None
    assert result.reason == "出席委員が合議体の委員の過半数に達していません（5人中2人）"


def test_seirei_9_no_quorum_without_the_chair() -> None:
    result = decide(votes(("B", C2, 12), ("C", C2, 12), ("D", C2, 12), ("E", C2, 12)), CHAIR)
    assert result.outcome is BoardOutcome.NO_QUORUM
    assert "合議体の長" in result.reason


def test_seirei_9_no_votes_is_no_quorum() -> None:
    assert decide([], CHAIR).outcome is BoardOutcome.NO_QUORUM


def test_seirei_9_acting_chair_counts_as_chair() -> None:
    # The 職務代理者 is passed as the chair.
    result = decide(votes(("B", C1, 6), ("C", C1, 6), ("D", C2, 6)), "B")
    assert (result.outcome, result.level) == (BoardOutcome.DECIDED, C1)


def test_seirei_9_minimum_panel_of_three() -> None:
    result = decide(votes(("A", C1, 24), ("B", C1, 36)), CHAIR, panel_size=3)
    assert (result.level, result.validity_months) == (C1, 24)  # 1–1 on months: the chair's


def test_seirei_9_tie_broken_by_the_chair() -> None:
    result = decide(votes(("A", C2, 12), ("B", C2, 12), ("C", C3, 12), ("D", C3, 12)), CHAIR)
    assert (result.outcome, result.level) == (BoardOutcome.DECIDED, C2)


def test_seirei_9_chair_motion_carried_on_equal_votes() -> None:
    # 2 for the chair's 要介護2, 2 against it (split between other levels): 可否同数 → the chair decides.
    result = decide(votes(("A", C2, 12), ("B", C2, 24), ("C", C1, 12), ("D", C3, 12)), CHAIR)
    assert (result.level, result.validity_months) == (C2, 12)


@pytest.mark.parametrize(
    "ballot",
    [
        # 2–2–1 among five: no level has 3 votes, and an odd number present cannot tie
        votes(("A", C1, 12), ("B", C2, 12), ("C", C2, 12), ("D", C3, 12), ("E", C3, 12)),
        votes(("A", C2, 12), ("B", C2, 12), ("C", C3, 12), ("D", C3, 12), ("E", C1, 12)),
        # four present, the chair alone on its level
        votes(("A", C1, 12), ("B", C2, 12), ("C", C2, 12), ("D", C3, 12)),
    ],
)
def test_seirei_9_no_majority_needs_deliberation(ballot: list[Vote]) -> None:
    result = decide(ballot, CHAIR)
    assert result.outcome is BoardOutcome.NO_MAJORITY
    assert result.level is None and "再度協議" in result.reason


def test_seirei_9_validity_most_common_among_those_for_the_level() -> None:
    # Votes for another level do not count towards the validity.
    ballot = votes(("A", C2, 24), ("B", C2, 12), ("C", C2, 12), ("D", C3, 24), ("E", C3, 24))
    assert decide(ballot, CHAIR).validity_months == 12


def test_seirei_9_validity_tie_broken_by_the_chair() -> None:
    ballot = votes(("A", C2, 24), ("B", C2, 12), ("C", C2, 24), ("D", C2, 12), ("E", C3, 6))
    assert decide(ballot, CHAIR).validity_months == 24


def test_seirei_9_validity_tie_without_the_chair_takes_the_shortest() -> None:
    ballot = votes(("A", C3, 6), ("B", C2, 24), ("C", C2, 12), ("D", C2, 36), ("E", C3, 6))
    assert decide(ballot, CHAIR) == BoardDecision(BoardOutcome.DECIDED, C2, 12)


def test_27_9_not_applicable_has_no_validity() -> None:
    na = CareLevel.NOT_APPLICABLE
    result = decide(votes(("A", na, None), ("B", na, None), ("C", CareLevel.SUPPORT_1, 12)), CHAIR)
    assert result == BoardDecision(BoardOutcome.DECIDED, na, None)


@pytest.mark.parametrize(
    ("ballot", "panel_size", "message"),
    [
        (votes(("A", C2, 12), ("A", C3, 12), ("B", C2, 12)), 5, "重複"),
        (votes(("A", C2, 12), ("B", C2, 12)), 2, "3人以上"),
        (votes(("A", C2, 12), ("B", C2, 12), ("C", C2, 12), ("D", C2, 12)), 3, "超えています"),
        (votes(("A", C2, None), ("B", C2, 12), ("C", C2, 12)), 5, "有効期間がありません"),
        (votes(("A", C2, 0), ("B", C2, 12), ("C", C2, 12)), 5, "有効期間がありません"),
    ],
)
def test_seirei_9_malformed_ballot_refused(ballot: list[Vote], panel_size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decide(ballot, CHAIR, panel_size)
