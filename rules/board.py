"""介護認定審査会の合議体: quorum and the vote on one case (二次判定).

- Size: 5 members as the standard (介護保険法施行令9条), 3 at the least (the national guidance that
  municipal rules follow, e.g. 大津市: 5, renewal panels 3).
- Quorum: the 合議体の長 (or the member acting for them, passed as `chair_id`) and a majority of the panel's
  members, the chair included (the city's 審査会規則, after 施行令9条 and e.g. 東村山市条例6条2項).
- Decision: a majority of the members present, the chair included; on a tie the chair decides
  (施行令9条; e.g. 久慈広域 運営訓令8条2項 "出席委員（議長を含む。）の過半数…可否同数のときは…長").

Each vote names a 要介護状態区分 and, unless 非該当, a validity in months. The level is voted as a motion:
a level with more than half of the votes wins. Otherwise the chair's level is the motion; if exactly half of
the present vote for it (可否同数) the chair's casting vote carries it. Anything else (e.g. 2–2–1) has no
majority, and the panel must deliberate again.

The validity goes with the level: among the members who voted for the decided level, the most common
months win; a tie goes to the chair's months if the chair is among them, else to the shortest of the tied
values (an earlier re-examination is the cautious choice, and every value is one a member proposed). The
caller checks the months against the legal range (`rules.certification.validate_validity_months`).

A member who must recuse (除斥: their own clients, relatives) does not vote: absent for that case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rules.primary_determination import CareLevel

MIN_PANEL_SIZE = 3
STANDARD_PANEL_SIZE = 5


@dataclass(frozen=True)
class Vote:
    member_id: str
    level: CareLevel
    validity_months: int | None  # None for 非該当


class BoardOutcome(StrEnum):
    DECIDED = "decided"
    NO_QUORUM = "no_quorum"  # 定足数不足: the case waits for another meeting
    NO_MAJORITY = "no_majority"  # 過半数に達しない: deliberate again


@dataclass(frozen=True)
class BoardDecision:
    outcome: BoardOutcome
    level: CareLevel | None = None
    validity_months: int | None = None
    reason: str = ""  # Japanese, for staff, when not decided

    @property
    def decided(self) -> bool:
        return self.outcome is BoardOutcome.DECIDED


def quorum_problem(present: int, chair_present: bool, panel_size: int) -> str | None:
    """Why the panel may not decide, or None when it has its quorum."""
    if not chair_present:
        return "合議体の長（又はその職務を代理する委員）が出席していません"
    if present * 2 <= panel_size:
        return f"出席委員が合議体の委員の過半数に達していません（{panel_size}人中{present}人）"
    return None


def has_quorum(present: int, chair_present: bool, panel_size: int) -> bool:
    return quorum_problem(present, chair_present, panel_size) is None


def _check(votes: Sequence[Vote], panel_size: int) -> None:
    if panel_size < MIN_PANEL_SIZE:
        raise ValueError(f"合議体の委員は{MIN_PANEL_SIZE}人以上です（{panel_size}人）")
    members = [vote.member_id for vote in votes]
    if len(set(members)) != len(members):
        raise ValueError("同じ委員の票が重複しています")
    if len(members) > panel_size:
        raise ValueError(f"票の数（{len(members)}）が合議体の委員数（{panel_size}）を超えています")
    for vote in votes:
        if vote.level is not CareLevel.NOT_APPLICABLE and (vote.validity_months or 0) < 1:
            raise ValueError(f"委員 {vote.member_id} の票に有効期間がありません")


def _decided_level(votes: Sequence[Vote], chair_vote: Vote) -> CareLevel | None:
    counts = Counter(vote.level for vote in votes)
    level, count = counts.most_common(1)[0]
    if count * 2 > len(votes):
        return level
    if counts[chair_vote.level] * 2 == len(votes):  # 可否同数 on the chair's motion
        return chair_vote.level
    return None


def _decided_months(votes: Sequence[Vote], level: CareLevel, chair_vote: Vote) -> int | None:
    if level is CareLevel.NOT_APPLICABLE:
        return None
    counts = Counter(vote.validity_months for vote in votes if vote.level is level)
    top = max(counts.values())
    tied = sorted(months for months, count in counts.items() if count == top and months is not None)
    if chair_vote.level is level and chair_vote.validity_months in tied:
        return chair_vote.validity_months
    return tied[0]


def decide(votes: Sequence[Vote], chair_id: str, panel_size: int = STANDARD_PANEL_SIZE) -> BoardDecision:
    """The panel's decision on one case from the votes of the members present (one vote each)."""
    _check(votes, panel_size)
    chair_vote = next((vote for vote in votes if vote.member_id == chair_id), None)
    problem = quorum_problem(len(votes), chair_vote is not None, panel_size)
    if problem is not None or chair_vote is None:
        return BoardDecision(BoardOutcome.NO_QUORUM, reason=problem or "")
    level = _decided_level(votes, chair_vote)
    if level is None:
        return BoardDecision(
            BoardOutcome.NO_MAJORITY,
            reason="出席委員の過半数の賛成を得た要介護状態区分がありません。再度協議してください",
        )
    return BoardDecision(BoardOutcome.DECIDED, level, _decided_months(votes, level, chair_vote))
