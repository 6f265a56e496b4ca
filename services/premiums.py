"""The premium ledger (調定・収納) the restriction procedure reads: assessments per 年度 × 期別, payments once
per receipt number, and what a person owes on a day (rules/restriction.py decides what is arrears).

Payments to one 期別 queue on its assessment row (SELECT … FOR UPDATE), so two postings can never together
pay more than was assessed; postings to other 期別 never wait for each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from models.registry import Insured, Person
from models.restriction import (
    ArrearsLine,
    ArrearsSnapshot,
    AssessmentBatch,
    AssessmentsPosted,
    InstalmentPublic,
    LedgerPublic,
    PaymentIn,
    PremiumAssessment,
    PremiumPayment,
    YearArrears,
)
from rules import restriction as rules
from rules.insured_status import InsuredCategory


def _paid_sum() -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(PremiumPayment.amount), 0)


async def instalments(session: AsyncSession, insured_no: str) -> list[rules.Instalment]:
    """Every assessed 期別 of the person with what has been paid on it."""
    rows = await session.exec(
        select(
            PremiumAssessment.fiscal_year,
            PremiumAssessment.period,
            PremiumAssessment.due_on,
            PremiumAssessment.amount,
            _paid_sum(),
        )
        .join(PremiumPayment, col(PremiumPayment.assessment_id) == PremiumAssessment.id, isouter=True)
        .where(PremiumAssessment.insured_no == insured_no)
        .group_by(col(PremiumAssessment.id))
        .order_by(col(PremiumAssessment.due_on))
    )
    return [
        rules.Instalment(year, period, due, amount, int(paid)) for year, period, due, amount, paid in rows
    ]


def arrears_lines(ledger: Iterable[rules.Instalment], as_of: date) -> list[ArrearsLine]:
    return [
        ArrearsLine(
            fiscal_year=i.fiscal_year, period=i.period, due_on=i.due_on, assessed=i.assessed, unpaid=i.unpaid
        )
        for i in rules.arrears(ledger, as_of)
    ]


async def snapshot(session: AsyncSession, insured_no: str, as_of: date) -> ArrearsSnapshot:
    return ArrearsSnapshot(as_of=as_of, lines=arrears_lines(await instalments(session, insured_no), as_of))


async def ledger(session: AsyncSession, insured_no: str, as_of: date) -> LedgerPublic:
    """The person's ledger as staff read it: each 期別's status, arrears by year, 時効."""
    entries = await instalments(session, insured_no)
    owed = rules.arrears(entries, as_of)
    barred = rules.time_barred(entries, as_of)
    oldest = rules.oldest_unpaid(entries, as_of)

    def status(i: rules.Instalment) -> str:
        if i.unpaid == 0:
            return "paid"
        if i in barred:
            return "time_barred"
        return "unpaid" if i.due_on < as_of else "not_due"

    return LedgerPublic(
        insured_no=insured_no,
        as_of=as_of,
        instalments=[
            InstalmentPublic(
                fiscal_year=i.fiscal_year,
                period=i.period,
                due_on=i.due_on,
                assessed=i.assessed,
                paid=i.paid,
                unpaid=i.unpaid,
                status=status(i),  # type: ignore[arg-type]
                months_past_due=rules.months_past_due(i.due_on, as_of) if i.unpaid else 0,
                prescription_completes_on=rules.prescription_completes_on(i.due_on),
            )
            for i in entries
        ],
        arrears_total=sum(i.unpaid for i in owed),
        arrears_by_year=[
            YearArrears(fiscal_year=year, unpaid=unpaid)
            for year, unpaid in rules.arrears_by_year(entries, as_of).items()
        ],
        oldest_unpaid_due=oldest.due_on if oldest else None,
        months_in_arrears=rules.months_in_arrears(entries, as_of),
        time_barred_total=sum(i.unpaid for i in barred),
    )


# ----------------------------------------------------------------------------------------- 調定


async def _first_category(session: AsyncSession, insured_no: str, field: str) -> Insured:
    insured = await session.get(Insured, insured_no)
    if insured is None:
        raise ProblemError(
            404, "insured-not-found", f"被保険者番号 {insured_no} は登録されていません", field=field
        )
    if insured.category != InsuredCategory.FIRST:
        message = "第2号被保険者の保険料は医療保険者が徴収します (68条の差止は医療保険者の依頼で記録します)"
        raise ProblemError(422, "not-first-category", message, field=field)
    return insured


async def post_assessments(*, session: AsyncSession, batch: AssessmentBatch, actor: str) -> AssessmentsPosted:
    """Register 調定 rows; all or nothing. The same row again is accepted unchanged (a re-sent file); a
    different 納期限 or amount for a registered 期別 is refused (a 更正 is not handled here)."""
    keys = [(a.insured_no, a.fiscal_year, a.period) for a in batch.assessments]
    problems: list[tuple[str, str]] = []
    for i, key in enumerate(keys):
        if keys.index(key) != i:
            problems.append(
                (f"assessments.{i}.period", f"{keys.index(key)}件目と同じ被保険者・年度・期別です")
            )
    if problems:
        raise ProblemError(422, "assessment-duplicate", problems[0][1], field=problems[0][0], fields=problems)
    created = unchanged = 0
    for i, item in enumerate(batch.assessments):
        insured = await _first_category(session, item.insured_no, f"assessments.{i}.insured_no")
        row = await session.exec(
            insert(PremiumAssessment)
            .values(
                insured_no=item.insured_no,
                atena_no=insured.atena_no,
                fiscal_year=item.fiscal_year,
                period=item.period,
                due_on=item.due_on,
                amount=item.amount,
                created_by=actor,
            )
            .on_conflict_do_nothing(constraint="uq_premium_assessment_period")
            .returning(PremiumAssessment.id)
        )
        if row.first() is not None:
            created += 1
            continue
        existing = await _assessment(session, item.insured_no, item.fiscal_year, item.period)
        assert existing is not None
        if (existing.due_on, existing.amount) != (item.due_on, item.amount):
            raise ProblemError(
                409,
                "assessment-exists",
                f"{item.fiscal_year}年度第{item.period}期は別の内容 (納期限 {existing.due_on}、"
                f"{existing.amount}円) で調定済みです",
                field=f"assessments.{i}",
            )
        unchanged += 1
    return AssessmentsPosted(created=created, unchanged=unchanged)


async def _assessment(
    session: AsyncSession, insured_no: str, fiscal_year: int, period: int, *, lock: bool = False
) -> PremiumAssessment | None:
    query = select(PremiumAssessment).where(
        PremiumAssessment.insured_no == insured_no,
        PremiumAssessment.fiscal_year == fiscal_year,
        PremiumAssessment.period == period,
    )
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


# ----------------------------------------------------------------------------------------- 収納


async def post_payment(
    *,
    session: AsyncSession,
    payment: PaymentIn,
    actor: str,
    today: date,
    source: str,
    import_id: str | None = None,
    field_prefix: str = "",
) -> tuple[PremiumPayment, bool, str]:
    """Record one payment in the caller's transaction: (row, replayed, 宛名番号).

    Idempotent by receipt number: the same payment again returns the recorded one (replayed=True); another
    payment under a recorded receipt number is refused (409). Refused as well (422): a 期別 with no 調定, an
    amount above what is still unpaid, a date in the future, a 期別 whose collection right 時効 extinguished
    before the payment (200条).
    """

    def problem(status: int, code: str, detail: str, name: str) -> ProblemError:
        return ProblemError(status, code, detail, field=f"{field_prefix}{name}")

    for (name,), message, _ in payment.problems(today):
        raise problem(422, "payment-date", message, name)
    insured = await session.get(Insured, payment.insured_no)
    if insured is None:
        raise problem(
            404, "insured-not-found", f"被保険者番号 {payment.insured_no} は登録されていません", "insured_no"
        )
    assessment = await _assessment(
        session, payment.insured_no, payment.fiscal_year, payment.period, lock=True
    )  # later postings to this 期別 wait here until this transaction ends
    recorded = await session.get(PremiumPayment, payment.receipt_no)
    if recorded is not None:
        same = (
            assessment is not None
            and recorded.assessment_id == assessment.id
            and (recorded.amount, recorded.paid_on) == (payment.amount, payment.paid_on)
        )
        if not same:
            raise problem(
                409,
                "receipt-exists",
                f"領収番号 {payment.receipt_no} は別の納付として記録済みです",
                "receipt_no",
            )
        return recorded, True, insured.atena_no
    if assessment is None:
        raise problem(
            422,
            "no-assessment",
            f"{payment.fiscal_year}年度第{payment.period}期の調定がありません",
            "period",
        )
    if payment.paid_on > rules.prescription_completes_on(assessment.due_on):
        raise problem(
            422,
            "time-barred",
            f"{payment.fiscal_year}年度第{payment.period}期は時効により徴収権が消滅しています "
            f"({rules.prescription_completes_on(assessment.due_on)} まで、介護保険法200条)",
            "paid_on",
        )
    paid = (
        await session.exec(select(_paid_sum()).where(PremiumPayment.assessment_id == assessment.id))
    ).one()
    unpaid = assessment.amount - int(paid)
    if payment.amount > unpaid:
        raise problem(
            422,
            "overpayment",
            f"納付額が{payment.fiscal_year}年度第{payment.period}期の未納額 ({unpaid}円) を超えています",
            "amount",
        )
    inserted = await session.exec(
        insert(PremiumPayment)
        .values(
            receipt_no=payment.receipt_no,
            assessment_id=assessment.id,
            insured_no=payment.insured_no,
            amount=payment.amount,
            paid_on=payment.paid_on,
            source=source,
            import_id=import_id,
            posted_by=actor,
        )
        .on_conflict_do_nothing(index_elements=["receipt_no"])
        .returning(PremiumPayment.receipt_no)
    )
    if inserted.first() is None:  # the same receipt posted at this moment for another 期別
        raise problem(
            409, "receipt-exists", f"領収番号 {payment.receipt_no} は別の納付として記録済みです", "receipt_no"
        )
    row = await session.get(PremiumPayment, payment.receipt_no)
    assert row is not None
    return row, False, insured.atena_no


async def atena_of(session: AsyncSession, insured_no: str) -> str | None:
    insured = await session.get(Insured, insured_no)
    return insured.atena_no if insured else None


async def person_exists(session: AsyncSession, insured_no: str) -> tuple[Insured, Person]:
    insured = await session.get(Insured, insured_no)
    if insured is None:
        raise ProblemError(
            404, "insured-not-found", f"被保険者番号 {insured_no} は登録されていません", field="insured_no"
        )
    person = await session.get(Person, insured.atena_no)
    assert person is not None
    return insured, person
