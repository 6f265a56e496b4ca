"""要介護認定's human tasks: who does each kind and what its completion payload is, and `CERTIFICATION`, the
procedure's description that procedures.py registers.

Payloads are validated twice on purpose: by the API before the update is sent (fast, field errors) and by the
workflow's update validator (the workflow's own guarantee, with the case's state at hand).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.alwaysj import PrimaryResultRecord
from models.case import CaseType
from models.certification import STAGE_LABELS, Stage
from models.permissions import Permission, Role
from models.physician_opinion import OpinionRequest, PhysicianOpinion
from models.procedure import ProcedureModel, TaskKindSpec
from models.survey import SurveyRecord, Text100, bounded_text, raise_at
from rules.primary_determination import CareLevel

Remarks = bounded_text(400, multiline=True)
Reason = bounded_text(200)


class CertificationTask(StrEnum):
    SURVEY = "survey"  # 認定調査
    OPINION_REQUEST = "opinion_request"  # 主治医意見書の依頼
    OPINION_RECEIPT = "opinion_receipt"  # 主治医意見書の受領
    OPINION_REMINDER = "opinion_reminder"  # 主治医意見書の督促
    PRIMARY_RESULT = "primary_result"  # 一次判定結果の取込
    BOARD_SCHEDULING = "board_scheduling"  # 審査会の日程登録待ち
    BOARD_VOTE = "board_vote"  # 審査会委員の判定
    BOARD_CLOSE = "board_close"  # 合議体長による審査の締めくくり
    DELAY_ESTIMATE = "delay_estimate"  # 延期通知: 処理見込期間と理由


class OpinionReminder(BaseModel):
    """督促の記録."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reminded_on": "2026-12-18", "method": "phone", "note": "12/21 提出予定"}]
        },
    )

    reminded_on: date = Field(description="督促した日")
    method: Literal["phone", "letter", "fax", "visit"] = Field(description="督促の方法")
    note: Text100 | None = Field(default=None, description="先方の回答 (提出予定日など)")


class BoardScheduled(BaseModel):
    """審査会の日程を登録した (再割当てを依頼)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "12/17 開催を追加"}]})

    note: Text100 | None = None


class BoardVotePayload(BaseModel):
    """審査会委員の判定: 区分と有効期間 (非該当なら有効期間なし)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"level": "要介護2", "validity_months": 12, "opinion": "特になし"}]},
    )

    level: CareLevel = Field(description="判定する区分")
    validity_months: int | None = Field(default=None, ge=3, le=48, description="有効期間 (月)")
    opinion: Remarks | None = Field(default=None, description="委員の意見")

    @model_validator(mode="after")
    def _months_match_level(self) -> Self:
        if self.level is CareLevel.NOT_APPLICABLE and self.validity_months is not None:
            raise_at("BoardVotePayload", [(("validity_months",), "非該当には有効期間を指定しません", None)])
        if self.level is not CareLevel.NOT_APPLICABLE and self.validity_months is None:
            raise_at("BoardVotePayload", [(("validity_months",), "有効期間 (月) を指定してください", None)])
        return self


class BoardClosePayload(BaseModel):
    """合議体長: 審査を締めくくり、審査会意見を付す."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"board_opinion": "特になし", "service_types": [], "change_reason": None}]
        },
    )

    board_opinion: Remarks | None = Field(default=None, description="審査会意見 (療養・留意事項; 証に記載)")
    service_types: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=10, description="サービスの種類の指定 (37条)"
    )
    change_reason: Remarks | None = Field(default=None, description="一次判定を変更した理由")
    specified_disease_confirmed: bool | None = Field(
        default=None,
        description="第2号: 要介護状態の原因が特定疾病によると確認したか (第2号では必須、7条3項2号)",
    )


class DelayEstimate(BaseModel):
    """延期通知の内容: 処理見込期間と理由 (27条11項ただし書)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"expected_by": "2027-01-15", "reason": "主治医意見書の提出が遅れているため"}]
        },
    )

    expected_by: date = Field(description="処分をする見込みの日")
    reason: Reason = Field(description="延期の理由 (通知書に記載)")


P = Permission
CERTIFICATION_TASKS: dict[str, TaskKindSpec] = {
    CertificationTask.SURVEY: TaskKindSpec(
        "認定調査",
        P.SURVEY_RECORD,
        SurveyRecord,
        candidate_role=Role.SURVEYOR,
        not_delegable_basis="新規申請の認定調査は委託できません (介護保険法28条5項)",
    ),
    CertificationTask.OPINION_REQUEST: TaskKindSpec("主治医意見書の依頼", P.OPINION_RECORD, OpinionRequest),
    CertificationTask.OPINION_RECEIPT: TaskKindSpec("主治医意見書の受領", P.OPINION_RECORD, PhysicianOpinion),
    CertificationTask.OPINION_REMINDER: TaskKindSpec("主治医意見書の督促", P.OPINION_RECORD, OpinionReminder),
    CertificationTask.PRIMARY_RESULT: TaskKindSpec(
        "一次判定結果の取込", P.CERTIFICATION_INTAKE, PrimaryResultRecord
    ),
    CertificationTask.BOARD_SCHEDULING: TaskKindSpec("審査会の日程登録", P.BOARD_MANAGE, BoardScheduled),
    CertificationTask.BOARD_VOTE: TaskKindSpec(
        "審査会の判定", P.BOARD_DECIDE, BoardVotePayload, candidate_role=Role.BOARD_MEMBER, fixed=True
    ),
    CertificationTask.BOARD_CLOSE: TaskKindSpec(
        "審査の締めくくり (合議体長)",
        P.BOARD_DECIDE,
        BoardClosePayload,
        candidate_role=Role.BOARD_MEMBER,
        fixed=True,
    ),
    CertificationTask.DELAY_ESTIMATE: TaskKindSpec(
        "延期通知 (処理見込期間)", P.CERTIFICATION_INTAKE, DelayEstimate
    ),
}

CERTIFICATION = ProcedureModel(
    case_type=CaseType.CERTIFICATION,
    label="要介護認定",
    desk_role=Role.INTAKE,
    task_kinds=CERTIFICATION_TASKS,
    stages={stage.value: label for stage, label in STAGE_LABELS.items()},
    exclusive_per_insured=True,  # one open application per insured person
    open_stage=Stage.INTAKE,
)
