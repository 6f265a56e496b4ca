"""認定調査票 (certification survey) payload: 概況調査, the 74 基本調査 items, 特記事項, 日常生活自立度.

The item list and answer codes follow the national 2009 調査票 (item set "09B", the one the national
一次判定 software reads) with the 概況調査 as revised by 老老発0816第1号 (R3.8.16); research/domain.md §1.2.
Answers are stored as the national answer codes ("1", "2", ...), so the 一次判定 export needs no mapping.

The national form changes by notice; each revision is a `SurveySchema` in `SURVEY_SCHEMAS`, and every
stored record names the schema it was taken under, so an old survey stays valid after a revision.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from rules.primary_determination import DementiaIndependence, PhysicalIndependence

SURVEY_SCHEMA_VERSION = "2021"

# ------------------------------------------------------------------------------------------ free text

# Tabs and line breaks are legitimate in 特記事項; every other control character breaks PDFs and CSVs.
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_multiline(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL_EXCEPT_LINES.search(value):
        raise ValueError("制御文字は使用できません")
    value = value.strip()
    if not value:
        raise ValueError("空欄にはできません")
    return value


def _check_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("改行や制御文字は使用できません")
    value = value.strip()
    if not value:
        raise ValueError("空欄にはできません")
    return value


def bounded_text(max_length: int, *, multiline: bool = False) -> Any:
    """A stripped, non-empty text type of at most `max_length` characters (line breaks normalized to LF)."""
    check = _check_multiline if multiline else _check_line
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(check)]


NOTE_MAX_LENGTH = 1000  # [default] per item; the board reads 特記事項 on one or two A4 pages in total
NoteText = bounded_text(NOTE_MAX_LENGTH, multiline=True)
Text20 = bounded_text(20)
Text40 = bounded_text(40)
Text60 = bounded_text(60)
Text100 = bounded_text(100)
Text2000 = bounded_text(2000, multiline=True)


def raise_at(title: str, problems: Iterable[tuple[tuple[str | int, ...], str, Any]]) -> None:
    """Raise one ValidationError whose errors point at `loc` (relative to the field being validated).

    Pydantic prefixes a ValidationError raised inside a validator with the field's location, so the API
    reports e.g. `answers.2-2`. The message is carried as ctx["error"] like a ValueError's.
    """
    details = [
        InitErrorDetails(
            type=PydanticCustomError("value_error", "{error}", {"error": message}), loc=loc, input=value
        )
        for loc, message, value in problems
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)


# ------------------------------------------------------------------------------------- answer scales


@dataclass(frozen=True)
class AnswerScale:
    """The printed choices of one item: national answer code → label, in the form's order."""

    key: str
    choices: tuple[tuple[str, str], ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.choices)

    def label(self, code: str) -> str:
        return dict(self.choices)[code]

    def range_text(self) -> str:
        codes = self.codes
        return f"{codes[0]}〜{codes[-1]}"


def _scale(key: str, *labels: str) -> AnswerScale:
    return AnswerScale(key, tuple((str(i), label) for i, label in enumerate(labels, start=1)))


PRESENCE = _scale("presence", "ない", "ある")
GRASP = _scale("grasp", "つかまらないでできる", "何かにつかまればできる", "できない")
SITTING = _scale("sitting", "できる", "自分の手で支えればできる", "支えてもらえればできる", "できない")
STANDING = _scale("standing", "支えなしでできる", "何か支えがあればできる", "できない")
BATHING = _scale("bathing", "介助されていない", "一部介助", "全介助", "行っていない")
ASSIST_3 = _scale("assist3", "介助されていない", "一部介助", "全介助")
ASSIST_4 = _scale("assist4", "介助されていない", "見守り等", "一部介助", "全介助")
VISION = _scale(
    "vision",
    "普通（日常生活に支障がない）",
    "約1m離れた視力確認表の図が見える",
    "目の前に置いた視力確認表の図が見える",
    "ほとんど見えない",
    "見えているのか判断不能",
)
HEARING = _scale(
    "hearing",
    "普通",
    "普通の声がやっと聞き取れる",
    "かなり大きな声なら何とか聞き取れる",
    "ほとんど聞こえない",
    "聞こえているのか判断不能",
)
SWALLOWING = _scale("swallowing", "できる", "見守り等", "できない")
OUTING = _scale("outing", "週1回以上", "月1回以上", "月1回未満")
COMMUNICATION = _scale(
    "communication",
    "調査対象者が意思を他者に伝達できる",
    "ときどき伝達できる",
    "ほとんど伝達できない",
    "できない",
)
ABLE = _scale("able", "できる", "できない")
FREQUENCY = _scale("frequency", "ない", "ときどきある", "ある")
DECISION = _scale(
    "decision", "できる（特別な場合でもできる）", "特別な場合を除いてできる", "日常的に困難", "できない"
)


# ------------------------------------------------------------------------------------------- items


class SurveyGroup(StrEnum):
    G1 = "1"
    G2 = "2"
    G3 = "3"
    G4 = "4"
    G5 = "5"
    SPECIAL_MEDICAL = "6"

    @property
    def label(self) -> str:
        return _GROUP_LABELS[self]


_GROUP_LABELS = {
    SurveyGroup.G1: "第1群 身体機能・起居動作",
    SurveyGroup.G2: "第2群 生活機能",
    SurveyGroup.G3: "第3群 認知機能",
    SurveyGroup.G4: "第4群 精神・行動障害",
    SurveyGroup.G5: "第5群 社会生活への適応",
    SurveyGroup.SPECIAL_MEDICAL: "特別な医療 (過去14日間)",
}


@dataclass(frozen=True)
class SurveyItem:
    """One 基本調査 item. `id` is the national display number ("1-1-1", "2-2"; 特別な医療 "6-1"..)."""

    id: str
    order: int  # 1..74, the national order (column order of the 一次判定 export)
    group: SurveyGroup
    name: str
    scale: AnswerScale
    # The form's multi-select questions (1-1 麻痺, 1-2 拘縮, 6 特別な医療) are answered per choice; this
    # names the question the choice belongs to. None for single-answer items.
    parent: str | None = None

    @property
    def note_key(self) -> str:
        """The 特記事項 number: 麻痺 and 拘縮 share one per question; 特別な医療 has one per choice."""
        return self.parent if self.parent in ("1-1", "1-2") else self.id

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready definition for the web console and the CSV export."""
        return {
            "id": self.id,
            "order": self.order,
            "group": self.group.value,
            "group_label": self.group.label,
            "name": self.name,
            "parent": self.parent,
            "note_key": self.note_key,
            "scale": [{"code": code, "label": label} for code, label in self.scale.choices],
        }


def _items_2009() -> tuple[SurveyItem, ...]:
    g1, g2, g3, g4, g5, g6 = (
        SurveyGroup.G1,
        SurveyGroup.G2,
        SurveyGroup.G3,
        SurveyGroup.G4,
        SurveyGroup.G5,
        SurveyGroup.SPECIAL_MEDICAL,
    )
    rows: list[tuple[str, SurveyGroup, str, AnswerScale, str | None]] = []
    for i, part in enumerate(("左上肢", "右上肢", "左下肢", "右下肢", "その他"), start=1):
        rows.append((f"1-1-{i}", g1, f"麻痺等の有無（{part}）", PRESENCE, "1-1"))
    for i, part in enumerate(("肩関節", "股関節", "膝関節", "その他"), start=1):
        rows.append((f"1-2-{i}", g1, f"拘縮の有無（{part}）", PRESENCE, "1-2"))
    rows += [
        ("1-3", g1, "寝返り", GRASP, None),
        ("1-4", g1, "起き上がり", GRASP, None),
        ("1-5", g1, "座位保持", SITTING, None),
        ("1-6", g1, "両足での立位", STANDING, None),
        ("1-7", g1, "歩行", GRASP, None),
        ("1-8", g1, "立ち上がり", GRASP, None),
        ("1-9", g1, "片足での立位", STANDING, None),
        ("1-10", g1, "洗身", BATHING, None),
        ("1-11", g1, "つめ切り", ASSIST_3, None),
        ("1-12", g1, "視力", VISION, None),
        ("1-13", g1, "聴力", HEARING, None),
        ("2-1", g2, "移乗", ASSIST_4, None),
        ("2-2", g2, "移動", ASSIST_4, None),
        ("2-3", g2, "えん下", SWALLOWING, None),
        ("2-4", g2, "食事摂取", ASSIST_4, None),
        ("2-5", g2, "排尿", ASSIST_4, None),
        ("2-6", g2, "排便", ASSIST_4, None),
        ("2-7", g2, "口腔清潔", ASSIST_3, None),
        ("2-8", g2, "洗顔", ASSIST_3, None),
        ("2-9", g2, "整髪", ASSIST_3, None),
        ("2-10", g2, "上衣の着脱", ASSIST_4, None),
        ("2-11", g2, "ズボン等の着脱", ASSIST_4, None),
        ("2-12", g2, "外出頻度", OUTING, None),
        ("3-1", g3, "意思の伝達", COMMUNICATION, None),
        ("3-2", g3, "毎日の日課を理解", ABLE, None),
        ("3-3", g3, "生年月日をいう", ABLE, None),
        ("3-4", g3, "短期記憶", ABLE, None),
        ("3-5", g3, "自分の名前をいう", ABLE, None),
        ("3-6", g3, "今の季節を理解", ABLE, None),
        ("3-7", g3, "場所の理解", ABLE, None),
        ("3-8", g3, "常時の徘徊", FREQUENCY, None),
        ("3-9", g3, "外出して戻れない", FREQUENCY, None),
    ]
    behaviours = (
        "被害的",
        "作話",
        "感情が不安定",
        "昼夜逆転",
        "同じ話をする",
        "大声を出す",
        "介護に抵抗",
        "落ち着きなし",
        "一人で出たがる",
        "収集癖",
        "物や衣類を壊す",
        "ひどい物忘れ",
        "独り言・独り笑い",
        "自分勝手に行動する",
        "話がまとまらない",
    )
    rows += [(f"4-{i}", g4, name, FREQUENCY, None) for i, name in enumerate(behaviours, start=1)]
    rows += [
        ("5-1", g5, "薬の内服", ASSIST_3, None),
        ("5-2", g5, "金銭の管理", ASSIST_3, None),
        ("5-3", g5, "日常の意思決定", DECISION, None),
        ("5-4", g5, "集団への不適応", FREQUENCY, None),
        ("5-5", g5, "買い物", ASSIST_4, None),
        ("5-6", g5, "簡単な調理", ASSIST_4, None),
    ]
    medical = (
        "処置内容（点滴の管理）",
        "処置内容（中心静脈栄養）",
        "処置内容（透析）",
        "処置内容（ストーマの処置）",
        "処置内容（酸素療法）",
        "処置内容（レスピレーター）",
        "処置内容（気管切開の処置）",
        "処置内容（疼痛の看護）",
        "処置内容（経管栄養）",
        "特別な対応（モニター測定）",
        "特別な対応（じょくそうの処置）",
        "失禁への対応（カテーテル）",
    )
    rows += [(f"6-{i}", g6, name, PRESENCE, "6") for i, name in enumerate(medical, start=1)]
    return tuple(
        SurveyItem(id=id_, order=n, group=group, name=name, scale=scale, parent=parent)
        for n, (id_, group, name, scale, parent) in enumerate(rows, start=1)
    )


# ----------------------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class SurveySchema:
    version: str
    title: str
    items: tuple[SurveyItem, ...]

    _by_id: dict[str, SurveyItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {item.id: item for item in self.items})

    def item(self, item_id: str) -> SurveyItem | None:
        return self._by_id.get(item_id)

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)

    @property
    def note_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.note_key for item in self.items))


SURVEY_SCHEMAS: dict[str, SurveySchema] = {}


def register_schema(schema: SurveySchema) -> SurveySchema:
    if schema.version in SURVEY_SCHEMAS:
        raise ValueError(f"survey schema {schema.version} is already registered")
    SURVEY_SCHEMAS[schema.version] = schema
    return schema


register_schema(
    SurveySchema(
        version=SURVEY_SCHEMA_VERSION,
        title="認定調査票 (基本調査2009年版・概況調査令和3年改正)",
        items=_items_2009(),
    )
)


def get_schema(version: str = SURVEY_SCHEMA_VERSION) -> SurveySchema:
    try:
        return SURVEY_SCHEMAS[version]
    except KeyError:
        raise ValueError(f"調査票の版 {version} は登録されていません") from None


def list_item_definitions(version: str = SURVEY_SCHEMA_VERSION) -> tuple[SurveyItem, ...]:
    """All 基本調査 items of a schema version in national order (74 for the current one)."""
    return get_schema(version).items


def selections_to_answers(
    parent: str, selected: Iterable[str], version: str = SURVEY_SCHEMA_VERSION
) -> dict[str, str]:
    """A multi-select question (1-1 麻痺, 1-2 拘縮, 6 特別な医療) as per-choice ない/ある answers.

    `selected` holds the checked choices' item ids; an empty set means the form's 「ない」.
    """
    items = [item for item in get_schema(version).items if item.parent == parent]
    if not items:
        raise ValueError(f"{parent} は複数選択の調査項目ではありません")
    chosen = set(selected)
    unknown = chosen - {item.id for item in items}
    if unknown:
        raise ValueError(f"{parent} の選択肢ではありません: {', '.join(sorted(unknown))}")
    return {item.id: "2" if item.id in chosen else "1" for item in items}


def selected_choices(
    answers: Mapping[str, str], parent: str, version: str = SURVEY_SCHEMA_VERSION
) -> frozenset[str]:
    """The checked choices (item ids answered ある) of a multi-select question."""
    return frozenset(
        item.id for item in get_schema(version).items if item.parent == parent and answers.get(item.id) == "2"
    )


# -------------------------------------------------------------------------------------- 概況調査


class SurveyPlace(StrEnum):
    """実施場所."""

    AT_HOME = "1"  # 自宅内
    AWAY = "2"  # 自宅外 (場所名を記入)


class CurrentSituation(StrEnum):
    """調査対象者の現在の状況 (在宅利用 / 施設利用の種類), national 現在の状況コード."""

    HOME = "1"  # 居宅 (施設利用なし)
    SPECIAL_NURSING_HOME = "2"  # 指定介護老人福祉施設
    HEALTH_FACILITY = "3"  # 介護老人保健施設
    LONG_TERM_CARE_SANATORIUM = "4"  # 指定介護療養型医療施設 (2024年3月廃止; 旧記録のため残す)
    GROUP_HOME = "5"  # 認知症対応型共同生活介護適用施設 (グループホーム)
    SPECIFIED_FACILITY = "6"  # 特定施設入居者生活介護適用施設 (ケアハウス等)
    HOSPITAL_LONG_TERM_BED = "7"  # 医療機関 (医療保険適用療養病床)
    HOSPITAL_OTHER = "8"  # 医療機関 (療養病床以外)
    OTHER_FACILITY = "9"  # その他の施設
    MEDICAL_CARE_CENTER = "10"  # 介護医療院 (2018年創設; 国のコード値は未確認)


class ServiceUse(BaseModel):
    """現在受けているサービス: one line of the 概況調査's service table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: Text40 = Field(description="サービスの種類 (例: 訪問介護（ホームヘルプ）)")
    amount: Text20 | None = Field(default=None, description="利用回数・日数等 (例: 月8回, 2品目)")


class SurveyOverview(BaseModel):
    """概況調査."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conducted_on: date = Field(description="実施日")
    place: SurveyPlace = Field(description="実施場所 (1: 自宅内, 2: 自宅外)")
    place_name: Text100 | None = Field(default=None, description="自宅外の場合の場所名")
    surveyor_name: Text60 | None = Field(default=None, description="記入者氏名")
    surveyor_affiliation: Text100 | None = Field(default=None, description="記入者の所属機関")
    current_situation: CurrentSituation = Field(description="調査対象者の現在の状況")
    facility_name: Text100 | None = Field(default=None, description="施設利用の場合の施設名")
    services: list[ServiceUse] = Field(
        default_factory=list, max_length=30, description="現在受けているサービス"
    )
    family_and_environment: Text2000 | None = Field(
        default=None, description="置かれている環境等 (家族状況・居住環境・日常的に使用する機器等)"
    )

    @model_validator(mode="after")
    def _place_name_when_away(self) -> SurveyOverview:
        if self.place is SurveyPlace.AWAY and self.place_name is None:
            raise_at(
                "SurveyOverview", [(("place_name",), "自宅外で実施した場合は場所名を入力してください", None)]
            )
        return self


# ------------------------------------------------------------------------------------------ record


def _answer_code(value: Any) -> str | None:
    """National answer code from "2", 2 or "２"; None when the value cannot be a code."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    return None


class SurveyRecord(BaseModel):
    """A complete 認定調査票. Incomplete or out-of-scale answers are refused, each error at its item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: str = Field(default=SURVEY_SCHEMA_VERSION, description="調査票の版")
    overview: SurveyOverview = Field(description="概況調査")
    answers: dict[str, str] = Field(description="基本調査: 調査項目番号 (例: 2-2) → 回答コード (例: 1)")
    notes: dict[str, NoteText] = Field(default_factory=dict, description="特記事項: 調査項目番号 → 本文")
    physical_independence: PhysicalIndependence = Field(description="障害高齢者の日常生活自立度 (調査員)")
    dementia_independence: DementiaIndependence = Field(description="認知症高齢者の日常生活自立度 (調査員)")

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        get_schema(value)
        return value

    @field_validator("answers", mode="before")
    @classmethod
    def _complete_and_in_scale(cls, value: Any, info: ValidationInfo) -> Any:
        version = info.data.get("schema_version")
        if version is None or not isinstance(value, Mapping):
            return value  # the version error, or pydantic's own dict_type error, is reported instead
        schema = get_schema(version)
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        for key in value:
            if schema.item(str(key)) is None:
                problems.append(((str(key),), f"基本調査 {key} という調査項目はありません", value[key]))
        codes: dict[str, str] = {}
        for item in schema.items:
            label = f"基本調査 {item.id} ({item.name})"
            if item.id not in value or value[item.id] is None or value[item.id] == "":
                problems.append(((item.id,), f"{label} が未回答です", value.get(item.id)))
                continue
            code = _answer_code(value[item.id])
            if code not in item.scale.codes:
                message = f"{label}: {item.scale.range_text()} のいずれかで回答してください"
                problems.append(((item.id,), message, value[item.id]))
                continue
            codes[item.id] = code
        raise_at("SurveyRecord.answers", problems)
        return codes

    @field_validator("notes", mode="before")
    @classmethod
    def _notes_for_known_items(cls, value: Any, info: ValidationInfo) -> Any:
        version = info.data.get("schema_version")
        if version is None or not isinstance(value, Mapping):
            return value
        schema = get_schema(version)
        keys = set(schema.note_keys)
        problems: list[tuple[tuple[str | int, ...], str, Any]] = []
        kept: dict[str, Any] = {}
        for key, text in value.items():
            key = str(key)
            if isinstance(text, str) and not text.strip():
                continue  # the console sends every box; an empty one is no note
            if key in keys:
                kept[key] = text
                continue
            item = schema.item(key)
            if item is not None:  # a 麻痺/拘縮 choice: its note belongs to the question
                parent = schema.item(f"{item.note_key}-1")
                name = parent.name.split("（")[0] if parent else item.name
                problems.append(
                    ((key,), f"特記事項 {key}: {item.note_key} ({name}) に記入してください", text)
                )
            else:
                problems.append(((key,), f"特記事項 {key} という調査項目はありません", text))
        raise_at("SurveyRecord.notes", problems)
        return kept

    @property
    def schema(self) -> SurveySchema:
        return get_schema(self.schema_version)

    def answer_label(self, item_id: str) -> str:
        item = self.schema.item(item_id)
        if item is None:
            raise KeyError(item_id)
        return item.scale.label(self.answers[item_id])

    def ordered_answers(self) -> list[str]:
        """Answer codes in national item order (the 74 columns of the 一次判定 export)."""
        return [self.answers[item.id] for item in self.schema.items]
