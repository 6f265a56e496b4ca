"""更新案内's human task and `RENEWAL`, the procedure's description that procedures.py registers. Task kind
names are global: this one starts with `renewal_`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.case import CaseType
from models.permissions import Permission, Role
from models.procedure import ProcedureModel, TaskKindSpec
from models.renewal import STAGE_LABELS, Stage
from models.survey import bounded_text

Note = bounded_text(400)


class RenewalTask(StrEnum):
    FOLLOW_UP = "renewal_follow_up"  # 2回目の案内の後: 本人またはケアマネジャーに連絡


class Contacted(StrEnum):
    PERSON = "person"  # 本人・家族
    CARE_MANAGER = "care_manager"  # 担当のケアマネジャー・地域包括支援センター


class FollowUpOutcome(StrEnum):
    REACHED = "reached"  # 連絡がついた (申請の予定は未定)
    NOT_REACHED = "not_reached"  # 連絡がつかなかった
    WILL_APPLY = "will_apply"  # 更新の申請をする予定
    DECLINED = "declined"  # 更新しない (サービスを利用しない等)


class FollowUpRecord(BaseModel):
    """更新申請がない人への連絡の結果."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"contacted": "care_manager", "outcome": "will_apply", "note": "来週代行申請の予定"}]
        },
    )

    contacted: Contacted = Field(description="連絡した相手: person (本人・家族) / care_manager")
    outcome: FollowUpOutcome = Field(description="reached / not_reached / will_apply / declined")
    note: Note | None = Field(default=None, description="メモ")


RENEWAL_TASKS: dict[str, TaskKindSpec] = {
    RenewalTask.FOLLOW_UP: TaskKindSpec(
        "更新申請の勧奨 (本人・ケアマネジャーへ連絡)", Permission.CERTIFICATION_INTAKE, FollowUpRecord
    ),
}

RENEWAL = ProcedureModel(
    case_type=CaseType.RENEWAL,
    label="更新案内",
    desk_role=Role.INTAKE,
    task_kinds=RENEWAL_TASKS,
    stages={stage.value: label for stage, label in STAGE_LABELS.items()},
    exclusive_per_insured=False,  # one term per certification (unique certification_id)
    open_stage=Stage.WAITING,
)
