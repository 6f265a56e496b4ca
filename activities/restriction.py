"""給付制限's side effects: its read model (patched by the workflow's steps), the ledger reads the workflow
decides on, and the 控除 posting. (What opens cases — the daily scan, the certification listener — is in
activities/restriction_triggers.py.)

Idempotent, because Temporal retries activities: keyed inserts and set-style updates.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from models.common import utcnow
from models.restriction import (
    ArrearsQuery,
    ArrearsSnapshot,
    BenefitReduction,
    OffsetPosting,
    PremiumAssessment,
    PremiumPayment,
    ReductionFacts,
    ReductionQuery,
    RestrictionCase,
    RestrictionPatch,
)
from rules import restriction as rules
from services import premiums


class RestrictionReadModel:
    """Applies a step's `RestrictionPatch` in the step's transaction (activities/steps.py)."""

    async def apply(self, session: AsyncSession, case_id: str, patch: dict[str, Any]) -> None:
        changes = RestrictionPatch.model_validate(patch)
        now = utcnow()
        columns = changes.model_dump(exclude={"reduction", "arrears", "arrears_checked"}, exclude_unset=True)
        if changes.arrears is not None:
            columns["arrears"] = [line.model_dump(mode="json") for line in changes.arrears]
        if changes.arrears_checked:
            columns["arrears_checked_at"] = now
        if columns:
            await session.exec(
                sa.update(RestrictionCase)
                .where(col(RestrictionCase.case_id) == case_id)
                .values(**columns, updated_at=now)
            )
        if changes.reduction is not None:
            await session.exec(
                insert(BenefitReduction)
                .values(**changes.reduction.model_dump(), case_id=case_id, created_at=now)
                .on_conflict_do_nothing(index_elements=["certification_id"])
            )


def _printed(value: Fraction) -> Decimal:
    """X and Y as the notice prints them: four decimals."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


class RestrictionActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn
    async def arrears_snapshot(self, query: ArrearsQuery) -> ArrearsSnapshot:
        """The person's collectible arrears (年度 × 期別) on the business date the workflow gives."""
        async with self._sessions() as session:
            return await premiums.snapshot(session, query.insured_no, query.as_of)

    @activity.defn
    async def reduction_facts(self, query: ReductionQuery) -> ReductionFacts | None:
        """69条: the period from the ledger's yen amounts over the 10-year lookback (None: nothing barred)."""
        async with self._sessions() as session:
            ledger = await premiums.instalments(session, query.insured_no)
        period = rules.reduction_period(rules.lookback_premiums(ledger, query.certified_on))
        if period is None:
            return None
        first, last = rules.lookback_period(query.certified_on)
        return ReductionFacts(
            certified_on=query.certified_on,
            lookback_from=first,
            lookback_to=last,
            barred_years=_printed(period.barred_years),
            paid_years=_printed(period.paid_years),
            formula_value=period.formula_value,
            months=period.months,
        )

    @activity.defn
    async def post_offset(self, posting: OffsetPosting) -> int:
        """67条3項: the deducted premiums become payments on the 控除日 (never more than is still unpaid).
        Receipt numbers are derived from the case and the 控除, so a retry posts nothing twice."""
        total = 0
        async with self._sessions() as session, session.begin():
            for premium in posting.premiums:
                receipt = (
                    f"OFS{posting.case_id[-12:]}{posting.sequence:02d}"
                    f"{premium['fiscal_year']}{premium['period']:02d}"
                )
                assessment = (
                    await session.exec(
                        select(PremiumAssessment)
                        .where(
                            PremiumAssessment.insured_no == posting.insured_no,
                            PremiumAssessment.fiscal_year == premium["fiscal_year"],
                            PremiumAssessment.period == premium["period"],
                        )
                        .with_for_update()
                    )
                ).first()
                if assessment is None:
                    continue
                already = await session.get(PremiumPayment, receipt)
                if already is not None:  # posted by an earlier attempt of this activity
                    total += already.amount
                    continue
                paid = (
                    await session.exec(
                        select(sa.func.coalesce(sa.func.sum(PremiumPayment.amount), 0)).where(
                            PremiumPayment.assessment_id == assessment.id
                        )
                    )
                ).one()
                amount = min(premium["amount"], assessment.amount - int(paid))
                if amount <= 0:
                    continue
                session.add(
                    PremiumPayment(
                        receipt_no=receipt,
                        assessment_id=assessment.id,  # type: ignore[arg-type]
                        insured_no=posting.insured_no,
                        amount=amount,
                        paid_on=posting.offset_on,
                        source="offset",
                        posted_by="system",
                    )
                )
                await session.flush()
                total += amount
        return total
