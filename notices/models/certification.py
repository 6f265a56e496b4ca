"""Data of the 要介護認定・要支援認定 notices (介護保険法27–37条).

Each model names the article it is issued under (`legal_basis`), chosen from its own fields, so the notice
never cites a 要介護 article on a 要支援 decision.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from notices.models.common import Day, LongText, NoticeData, OptionalLongText, Text
from rules.calendar import month_end
from rules.certification import ApplicationKind, decision_deadline
from rules.primary_determination import CareLevel
from rules.renewal import last_filing_day, renewal_window_opens


def _require_certified(level: CareLevel) -> None:
    if level is CareLevel.NOT_APPLICABLE:
        raise ValueError("認定された要介護状態区分・要支援状態区分を指定してください（非該当は却下通知書）")


def _check_validity(valid_from: Day, valid_to: Day) -> None:
    if valid_to < valid_from:
        raise ValueError("有効期間の終了日が開始日より前です")
    if valid_to != month_end(valid_to):
        raise ValueError("有効期間の終了日は月末日です")


class CertificationResult(NoticeData):
    """要介護認定・要支援認定 結果通知書 (新規・更新). 区分変更 uses CategoryChange."""

    application_kind: ApplicationKind
    application_date: Day
    decision_date: Day  # 認定年月日
    care_level: CareLevel
    valid_from: Day
    valid_to: Day
    board_opinion: OptionalLongText = None  # 認定審査会の意見 (27条5項2号, written on the 証: 27条7項2号)
    designated_services: list[Text] = Field(default_factory=list)  # サービスの種類の指定 (37条1項)

    @model_validator(mode="after")
    def _consistent(self) -> CertificationResult:
        if self.application_kind is ApplicationKind.CHANGE:
            raise ValueError("区分変更の結果は category_change（区分変更認定通知書）で通知します")
        _require_certified(self.care_level)
        _check_validity(self.valid_from, self.valid_to)
        if self.decision_date < self.application_date:
            raise ValueError("認定年月日が申請日より前です")
        return self

    @property
    def legal_basis(self) -> str:
        if self.care_level.is_support:
            if self.application_kind is ApplicationKind.RENEWAL:
                return "介護保険法第33条第4項において準用する同法第32条第6項"
            return "介護保険法第32条第6項"
        if self.application_kind is ApplicationKind.RENEWAL:
            return "介護保険法第28条第4項において準用する同法第27条第7項"
        return "介護保険法第27条第7項"


class DenialGround(StrEnum):
    NOT_ELIGIBLE = "not_eligible"  # 非該当: 要介護者にも要支援者にも該当しない (27条9項, 32条8項)
    SURVEY_REFUSED = "survey_refused"  # 正当な理由なく調査に応じない・診断命令に従わない (27条10項)


class CertificationDenial(NoticeData):
    """要介護認定・要支援認定 却下通知書: 非該当 or 却下, always with reasons (行政手続法8条)."""

    application_kind: ApplicationKind
    application_date: Day
    decision_date: Day
    ground: DenialGround
    reasons: list[LongText] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CertificationDenial:
        if self.decision_date < self.application_date:
            raise ValueError("決定日が申請日より前です")
        return self

    @property
    def legal_basis(self) -> str:
        if self.ground is DenialGround.NOT_ELIGIBLE:
            return {
                ApplicationKind.NEW: "介護保険法第27条第9項及び第32条第8項",
                ApplicationKind.RENEWAL: (
                    "介護保険法第28条第4項において準用する同法第27条第9項"
                    "及び同法第33条第4項において準用する同法第32条第8項"
                ),
                ApplicationKind.CHANGE: (
                    "介護保険法第29条第2項において準用する同法第27条第9項"
                    "及び同法第33条の2第2項において準用する同法第32条第8項"
                ),
            }[self.application_kind]
        return {
            ApplicationKind.NEW: "介護保険法第27条第10項（同法第32条第9項において準用する場合を含む。）",
            ApplicationKind.RENEWAL: "介護保険法第28条第4項において準用する同法第27条第10項",
            ApplicationKind.CHANGE: "介護保険法第29条第2項において準用する同法第27条第10項",
        }[self.application_kind]


class RevocationGround(StrEnum):
    NO_LONGER_ELIGIBLE = "no_longer_eligible"  # 31条1項1号・34条1項1号
    SURVEY_REFUSED = "survey_refused"  # 31条1項2号・34条1項2号


class CertificationRevocation(NoticeData):
    """要介護認定・要支援認定 取消通知書 (31条・34条): a 不利益処分, so reasons (行政手続法14条)."""

    care_level: CareLevel  # the certification being revoked
    ground: RevocationGround
    decision_date: Day  # the revocation takes effect on this day
    certificate_submit_by: Day  # 被保険者証の提出期限 (31条1項後段: the entries are struck out)
    reasons: list[LongText] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CertificationRevocation:
        _require_certified(self.care_level)
        if self.certificate_submit_by < self.issue_date:
            raise ValueError("被保険者証の提出期限が発行日より前です")
        return self

    @property
    def legal_basis(self) -> str:
        article = "第34条" if self.care_level.is_support else "第31条"
        item = "第1号" if self.ground is RevocationGround.NO_LONGER_ELIGIBLE else "第2号"
        return f"介護保険法{article}第1項{item}"


class ChangeBasis(StrEnum):
    APPLICATION = "application"  # 被保険者の申請による区分変更 (29条・33条の2)
    EX_OFFICIO = "ex_officio"  # 市町村の職権による区分変更: 介護の必要の程度が低下したとき (30条・33条の3)


class CategoryChange(NoticeData):
    """要介護状態区分・要支援状態区分の変更認定通知書."""

    basis: ChangeBasis
    application_date: Day | None = None  # required when basis is application
    decision_date: Day
    previous_level: CareLevel
    new_level: CareLevel
    valid_from: Day
    valid_to: Day
    board_opinion: OptionalLongText = None
    designated_services: list[Text] = Field(default_factory=list)
    reasons: list[LongText] = Field(default_factory=list)  # required for 職権 (a 不利益処分: 行政手続法14条)
    certificate_submit_by: Day | None = None  # 職権: the 証 is called in to be rewritten (30条1項後段)

    @model_validator(mode="after")
    def _consistent(self) -> CategoryChange:
        _require_certified(self.previous_level)
        _require_certified(self.new_level)
        _check_validity(self.valid_from, self.valid_to)
        if self.previous_level.is_support != self.new_level.is_support:
            # Crossing between 要介護 and 要支援 is a 取消し and a new 認定 (35条), not a 区分変更.
            raise ValueError("要介護と要支援の間の変更は区分変更ではありません（35条）")
        if self.previous_level == self.new_level:
            raise ValueError("変更前と変更後の区分が同じです")
        if self.basis is ChangeBasis.APPLICATION and self.application_date is None:
            raise ValueError("申請による区分変更には申請日が必要です")
        if self.basis is ChangeBasis.EX_OFFICIO:
            if self.application_date is not None:
                raise ValueError("職権による区分変更に申請日は指定できません")
            if self.new_level.rank > self.previous_level.rank:
                raise ValueError("職権による区分変更は介護の必要の程度が低下した場合に限られます（30条）")
            if not self.reasons:
                raise ValueError("職権による区分変更には理由が必要です（行政手続法14条）")
        return self

    @property
    def legal_basis(self) -> str:
        support = self.new_level.is_support
        if self.basis is ChangeBasis.APPLICATION:
            if support:
                return "介護保険法第33条の2第2項において準用する同法第32条第6項"
            return "介護保険法第29条第2項において準用する同法第27条第7項"
        return "介護保険法第33条の3第1項" if support else "介護保険法第30条第1項"


class Postponement(NoticeData):
    """延期通知書 (27条11項ただし書): the 処理見込期間 and the reason, sent within the 30 days."""

    application_kind: ApplicationKind
    application_date: Day
    expected_by: Day  # last day of the 処理見込期間
    reason: LongText

    @model_validator(mode="after")
    def _consistent(self) -> Postponement:
        deadline = decision_deadline(self.application_date)
        if self.expected_by <= deadline:
            raise ValueError("処理見込期間は申請日から30日を超える日まで指定してください（延期の通知）")
        if self.issue_date < self.application_date:
            raise ValueError("発行日が申請日より前です")
        return self

    @property
    def legal_basis(self) -> str:
        return "介護保険法第27条第11項ただし書（同法の規定により準用する場合を含む。）"


class ExpiryReminder(NoticeData):
    """要介護認定・要支援認定有効期間終了のお知らせ: a reminder, not a 処分."""

    care_level: CareLevel
    valid_from: Day
    valid_to: Day
    second_notice: bool = False  # the follow-up when no renewal has been filed

    @model_validator(mode="after")
    def _consistent(self) -> ExpiryReminder:
        _require_certified(self.care_level)
        _check_validity(self.valid_from, self.valid_to)
        return self

    @property
    def renewal_opens(self) -> Day:
        """First day a 更新 may be filed (60 days before the expiry)."""
        return renewal_window_opens(self.valid_to)

    @property
    def last_filing_day(self) -> Day:
        """Last day a 更新 may be filed: the expiry, moved past city holidays (地方自治法4条の2第4項)."""
        return last_filing_day(self.valid_to)
