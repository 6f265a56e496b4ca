"""個人番号: link (encrypted, unique), reveal, exact search. Callers check permissions and audit."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from kaigo.errors import ProblemError
from kaigo.security.field_crypto import FieldCipher, SealedValue
from models.common import utcnow
from models.registry import Person
from rules.mynumber import mask
from services.registry import get_person

_ALREADY_LINKED = "この個人番号は既に別の宛名に紐付けられています。届出書等と照合してください"


async def link(*, session: AsyncSession, cipher: FieldCipher, atena_no: str, my_number: str) -> Person:
    """Attach a validated 個人番号. A number already linked to someone else is refused (seed III-3)."""
    person = await get_person(session=session, atena_no=atena_no)
    index = cipher.blind_index(my_number)
    holder = (await session.exec(select(Person.atena_no).where(Person.mynumber_index == index))).first()
    if holder is not None and holder != atena_no:
        raise ProblemError(409, "mynumber-linked", _ALREADY_LINKED, field="my_number")
    sealed = cipher.seal(my_number, bound_to=atena_no)
    person.mynumber_ciphertext, person.mynumber_key_id, person.mynumber_index = (
        sealed.ciphertext,
        sealed.key_id,
        index,
    )
    person.updated_at = utcnow()
    session.add(person)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent link of the same number won the race
        raise ProblemError(409, "mynumber-linked", _ALREADY_LINKED, field="my_number") from exc
    return person


def reveal(person: Person, cipher: FieldCipher) -> str | None:
    if person.mynumber_ciphertext is None or person.mynumber_key_id is None:
        return None
    return cipher.open(
        SealedValue(person.mynumber_key_id, person.mynumber_ciphertext), bound_to=person.atena_no
    )


def masked(person: Person, cipher: FieldCipher) -> str | None:
    number = reveal(person, cipher)
    return mask(number) if number else None


async def find_by_number(*, session: AsyncSession, cipher: FieldCipher, my_number: str) -> Person | None:
    index = cipher.blind_index(my_number)
    return (await session.exec(select(Person).where(Person.mynumber_index == index))).first()
