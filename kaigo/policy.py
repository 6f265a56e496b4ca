"""Procedure policy: the city's configurable offsets (not law: the law is in rules/).

Resolved from settings (CERTIFICATION_POLICY, JSON) when a case starts and passed in the workflow input, so
each case keeps the policy it started under and tests can shorten it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Policy(BaseModel):
    """City-configurable offsets, resolved from settings when a case starts and kept in its history."""

    survey_due_days: int = Field(default=14, ge=1, description="認定調査の期限 (申請日から)")
    opinion_request_due_days: int = Field(default=3, ge=1, description="意見書依頼の期限 (申請日から)")
    opinion_due_days: int = Field(default=14, ge=1, description="意見書の提出期限 (依頼日から)")
    opinion_reminder_interval_days: int = Field(default=7, ge=1, description="督促の間隔")
    primary_due_days: int = Field(default=3, ge=1, description="一次判定取込の期限")
    delay_check_lead_days: int = Field(
        default=5, ge=0, le=29, description="30日期限の何日前に延期要否を確認するか"
    )
