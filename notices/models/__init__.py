"""Typed data of each notice kind (pydantic): missing or invalid data is refused before rendering."""

from notices.models.certification import (
    CategoryChange,
    CertificationDenial,
    CertificationResult,
    CertificationRevocation,
    ChangeBasis,
    DenialGround,
    ExpiryReminder,
    Postponement,
    RevocationGround,
)
from notices.models.common import ArrearsRow, Issuer, NoticeData, Recipient, WithheldBenefit
from notices.models.restriction import (
    BenefitReduction,
    BenefitSuspension,
    Category2Suspension,
    Category2SuspensionAdvance,
    ExplanationReviewResult,
    OffsetPremium,
    PaymentMethodChange,
    PaymentMethodChangeAdvance,
    PremiumOffset,
    RestrictionMeasure,
)

__all__ = [
    "ArrearsRow",
    "BenefitReduction",
    "BenefitSuspension",
    "Category2Suspension",
    "Category2SuspensionAdvance",
    "CategoryChange",
    "CertificationDenial",
    "CertificationResult",
    "CertificationRevocation",
    "ChangeBasis",
    "DenialGround",
    "ExpiryReminder",
    "ExplanationReviewResult",
    "Issuer",
    "NoticeData",
    "OffsetPremium",
    "PaymentMethodChange",
    "PaymentMethodChangeAdvance",
    "Postponement",
    "PremiumOffset",
    "Recipient",
    "RestrictionMeasure",
    "RevocationGround",
    "WithheldBenefit",
]
