"""文書番号: 「令和8年度 介認第12号」 — the 年度 of the issue date, a family prefix, and the number within
the kind and 年度. Pure, so the service, the preview fixtures and the tests number documents alike."""

from __future__ import annotations

from datetime import date

from rules.wareki import wareki_fiscal_year

# Prefixes by family (認定, 給付制限, 更新案内).
_PREFIX = {
    "certification_result": "介認",
    "certification_denial": "介認",
    "certification_revocation": "介認",
    "category_change": "介認",
    "postponement": "介認",
    "expiry_reminder": "介更",
}
_DEFAULT_PREFIX = "介制"


def fiscal_year_of(day: date) -> int:
    """年度: April to March."""
    return day.year if day.month >= 4 else day.year - 1


def document_no(kind: str, fiscal_year: int, sequence: int) -> str:
    return f"{wareki_fiscal_year(fiscal_year)} {_PREFIX.get(kind, _DEFAULT_PREFIX)}第{sequence}号"
