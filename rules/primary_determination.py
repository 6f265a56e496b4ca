"""一次判定 (computer primary determination): scales, thresholds and checks on the imported result.

The national 一次判定 software computes the result; kaigo-flow imports it and never recomputes it. These
rules only check that an imported record is internally consistent, to catch corrupted or mismatched
imports before they reach the board:

- 要介護認定等基準時間 → 区分 (平成11年厚生省令58号; 推計の方法は平成12年厚生省告示91号):
  < 25 非該当; 25–32 要支援1; 32–50 要支援2 or 要介護1; 50–70 要介護2; 70–90 要介護3; 90–110 要介護4;
  ≥ 110 要介護5 — each lower bound inclusive;
- 要支援2 vs 要介護1 (32–50 minutes): the 認知症自立度 of the survey and the 主治医意見書, then 状態の安定性
  and 認知症自立度II以上の蓋然性 (介護認定審査会委員テキスト2009).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum


class CareLevel(StrEnum):
    """要介護状態区分, including 非該当. Declared from lightest to heaviest."""

    NOT_APPLICABLE = "非該当"
    SUPPORT_1 = "要支援1"
    SUPPORT_2 = "要支援2"
    CARE_1 = "要介護1"
    CARE_2 = "要介護2"
    CARE_3 = "要介護3"
    CARE_4 = "要介護4"
    CARE_5 = "要介護5"

    @property
    def label(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """0 (非該当) … 7 (要介護5): for "heavier than" comparisons."""
        return _CARE_LEVEL_ORDER.index(self)

    @property
    def code(self) -> str:
        """要介護状態区分コード of the national interfaces (一次判定ソフト, 国保連)."""
        return _CARE_LEVEL_CODES[self]

    @classmethod
    def from_code(cls, code: str) -> CareLevel:
        for level, level_code in _CARE_LEVEL_CODES.items():
            if level_code == code:
                return level
        raise ValueError(f"要介護状態区分コード {code!r} は不明です")

    @property
    def is_support(self) -> bool:
        """要支援1・2 (予防給付)."""
        return self in (CareLevel.SUPPORT_1, CareLevel.SUPPORT_2)

    @property
    def is_care(self) -> bool:
        """要介護1–5 (介護給付)."""
        return self.rank >= CareLevel.CARE_1.rank


_CARE_LEVEL_ORDER = tuple(CareLevel)
_CARE_LEVEL_CODES = {
    CareLevel.NOT_APPLICABLE: "01",
    CareLevel.SUPPORT_1: "12",
    CareLevel.SUPPORT_2: "13",
    CareLevel.CARE_1: "21",
    CareLevel.CARE_2: "22",
    CareLevel.CARE_3: "23",
    CareLevel.CARE_4: "24",
    CareLevel.CARE_5: "25",
}


class DementiaIndependence(StrEnum):
    """認知症高齢者の日常生活自立度 (rated by the surveyor and, separately, by the physician)."""

    INDEPENDENT = "自立"
    I = "I"  # noqa: E741  (the rank's official name)
    IIA = "IIa"
    IIB = "IIb"
    IIIA = "IIIa"
    IIIB = "IIIb"
    IV = "IV"
    M = "M"

    @property
    def label(self) -> str:
        return self.value

    @property
    def is_ii_or_above(self) -> bool:
        """Rank II or worse: the threshold the 要支援2/要介護1 split looks at."""
        return self not in (DementiaIndependence.INDEPENDENT, DementiaIndependence.I)


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

    @property
    def label(self) -> str:
        return self.value


class Stability(StrEnum):
    """状態の安定性 (the software's 状態安定性判定ロジック)."""

    STABLE = "安定"
    UNSTABLE = "不安定"

    @property
    def label(self) -> str:
        return self.value


# (lower bound in minutes, inclusive; the levels from that bound up to the next one)
_MINUTE_BANDS: tuple[tuple[Decimal, tuple[CareLevel, ...]], ...] = (
    (Decimal(0), (CareLevel.NOT_APPLICABLE,)),
    (Decimal(25), (CareLevel.SUPPORT_1,)),
    (Decimal(32), (CareLevel.SUPPORT_2, CareLevel.CARE_1)),
    (Decimal(50), (CareLevel.CARE_2,)),
    (Decimal(70), (CareLevel.CARE_3,)),
    (Decimal(90), (CareLevel.CARE_4,)),
    (Decimal(110), (CareLevel.CARE_5,)),
)

DEMENTIA_PROBABILITY_THRESHOLD = Decimal(50)  # 認知症自立度II以上の蓋然性 ≥ 50% → 要介護1

# Eight category times come with one decimal each; if the importer or the software rounds each of them
# and the total independently, the sum may drift by up to 8 × 0.05 minutes.
CATEGORY_SUM_TOLERANCE = Decimal("0.4")


def _minutes(value: Decimal | float | int) -> Decimal:
    # str() so that 31.9 stays 31.9 rather than its binary approximation.
    minutes = value if isinstance(value, Decimal) else Decimal(str(value))
    if not minutes.is_finite() or minutes < 0:
        raise ValueError(f"要介護認定等基準時間が不正です: {value}")
    return minutes


def level_range_for_minutes(minutes: Decimal | float | int) -> tuple[CareLevel, ...]:
    """The level(s) 基準時間 allows: one level, or (要支援2, 要介護1) for 32 ≤ minutes < 50."""
    value = _minutes(minutes)
    levels = _MINUTE_BANDS[0][1]
    for lower, band in _MINUTE_BANDS:
        if value >= lower:
            levels = band
    return levels


def next_heavier_threshold(minutes: Decimal | float | int) -> Decimal | None:
    """The lower bound of the next heavier minute band (None from 110 minutes up)."""
    value = _minutes(minutes)
    for lower, _ in _MINUTE_BANDS:
        if lower > value:
            return lower
    return None


def split_support2_or_care1(
    surveyor_dementia: DementiaIndependence,
    physician_dementia: DementiaIndependence,
    stability: Stability,
    dementia_probability: Decimal | float | int,
) -> CareLevel:
    """要支援2 or 要介護1 for 32 ≤ 基準時間 < 50 (テキスト2009).

    Both ratings 自立/I → stability decides; both ≥ II → 要介護1; exactly one ≥ II → the software's
    probability of 認知症自立度II以上 decides (≥ 50% → 要介護1), else stability decides.
    """
    high = surveyor_dementia.is_ii_or_above + physician_dementia.is_ii_or_above
    if high == 2:
        return CareLevel.CARE_1
    if high == 1 and _probability(dementia_probability) >= DEMENTIA_PROBABILITY_THRESHOLD:
        return CareLevel.CARE_1
    return CareLevel.SUPPORT_2 if stability is Stability.STABLE else CareLevel.CARE_1


def _probability(value: Decimal | float | int) -> Decimal:
    probability = value if isinstance(value, Decimal) else Decimal(str(value))
    if not probability.is_finite() or not Decimal(0) <= probability <= Decimal(100):
        raise ValueError(f"認知症自立度II以上の蓋然性は0〜100%で指定してください: {value}")
    return probability


def expected_primary_level(
    minutes: Decimal | float | int,
    surveyor_dementia: DementiaIndependence,
    physician_dementia: DementiaIndependence,
    stability: Stability,
    dementia_probability: Decimal | float | int,
) -> CareLevel:
    """The level the published rules give for these inputs (a check, not a replacement for the software)."""
    levels = level_range_for_minutes(minutes)
    if len(levels) == 1:
        return levels[0]
    return split_support2_or_care1(surveyor_dementia, physician_dementia, stability, dementia_probability)


@dataclass(frozen=True)
class CategoryTimes:
    """The eight 行為区分 times of the 樹形モデル, in minutes."""

    meal: Decimal  # 食事 (直接生活介助)
    excretion: Decimal  # 排泄 (直接生活介助)
    transfer: Decimal  # 移動 (直接生活介助)
    hygiene: Decimal  # 清潔保持 (直接生活介助)
    indirect: Decimal  # 間接生活介助
    bpsd: Decimal  # BPSD関連行為
    rehabilitation: Decimal  # 機能訓練関連行為
    medical: Decimal  # 医療関連行為

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, f.name) for f in fields(self)), Decimal(0))


CATEGORY_LABELS = {
    "meal": "食事",
    "excretion": "排泄",
    "transfer": "移動",
    "hygiene": "清潔保持",
    "indirect": "間接生活介助",
    "bpsd": "BPSD関連行為",
    "rehabilitation": "機能訓練関連行為",
    "medical": "医療関連行為",
}


def validate_category_times(times: CategoryTimes, minutes: Decimal | float | int) -> list[str]:
    """Problems with the 8 category times: negative values, or a sum off 基準時間 beyond the tolerance."""
    problems = [
        f"{CATEGORY_LABELS[f.name]}の時間が負の値です: {getattr(times, f.name)}分"
        for f in fields(times)
        if getattr(times, f.name) < 0
    ]
    total = _minutes(minutes)
    if abs(times.total - total) > CATEGORY_SUM_TOLERANCE:
        problems.append(
            f"行為区分ごとの時間の合計 {times.total}分 が要介護認定等基準時間 {total}分 と一致しません"
        )
    return problems


def validate_primary_result(
    result_level: CareLevel,
    minutes: Decimal | float | int,
    surveyor_dementia: DementiaIndependence | None,
    physician_dementia: DementiaIndependence | None,
    stability: Stability | None,
    dementia_probability: Decimal | float | int | None,
    category_times: CategoryTimes | None = None,
) -> list[str]:
    """Japanese descriptions of how an imported 一次判定 result contradicts the rules; [] if consistent.

    The split inputs may be missing (None) outside 32–50 minutes, where they do not matter.
    """
    try:
        value = _minutes(minutes)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    if dementia_probability is not None:
        try:
            _probability(dementia_probability)
        except ValueError as exc:
            problems.append(str(exc))
            dementia_probability = None
    levels = level_range_for_minutes(value)
    allowed = "又は".join(level.label for level in levels)
    if result_level not in levels:
        problems.append(
            f"一次判定結果 {result_level.label} は要介護認定等基準時間 {value}分 の区分"
            f"（{allowed}）と一致しません"
        )
    elif len(levels) == 2:
        problems.extend(
            _check_split(result_level, surveyor_dementia, physician_dementia, stability, dementia_probability)
        )
    if category_times is not None:
        problems.extend(validate_category_times(category_times, value))
    return problems


def _check_split(
    result_level: CareLevel,
    surveyor_dementia: DementiaIndependence | None,
    physician_dementia: DementiaIndependence | None,
    stability: Stability | None,
    dementia_probability: Decimal | float | int | None,
) -> Sequence[str]:
    # Ask only for what this branch of the logic reads, so a record without an unused field passes.
    if surveyor_dementia is None or physician_dementia is None:
        return ["要支援2・要介護1の判定に必要な認知症高齢者の日常生活自立度（調査・意見書）がありません"]
    high = surveyor_dementia.is_ii_or_above + physician_dementia.is_ii_or_above
    if high == 1 and dementia_probability is None:
        return ["要支援2・要介護1の判定に必要な認知症自立度II以上の蓋然性がありません"]
    probability = Decimal(0) if dementia_probability is None else dementia_probability
    needs_stability = high == 0 or (high == 1 and _probability(probability) < DEMENTIA_PROBABILITY_THRESHOLD)
    if needs_stability and stability is None:
        return ["要支援2・要介護1の判定に必要な状態の安定性がありません"]
    expected = split_support2_or_care1(
        surveyor_dementia, physician_dementia, stability or Stability.UNSTABLE, probability
    )
    if result_level is expected:
        return []
    return [
        f"一次判定結果 {result_level.label} は認知症自立度（調査 {surveyor_dementia.label}・"
        f"意見書 {physician_dementia.label}）、状態の安定性（{stability.label if stability else '—'}）、"
        f"認知症自立度II以上の蓋然性（{'—' if dementia_probability is None else dementia_probability}%）"
        f"による判定 {expected.label} と一致しません"
    ]
