"""kaigo's custom Temporal search attributes, typed, and their registration on a server that lacks them.

They are not encrypted by the payload codec, so they hold only opaque keys, stages and dates — never a
name, address, birth date, 個人番号 or free text.

The dev server gets them from `--search-attribute` flags; an external server (compose, a cluster) gets them
from `ensure_search_attributes`, idempotently, when a worker starts.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

CASE_TYPE = SearchAttributeKey.for_keyword("CaseType")  # certification / restriction / renewal
CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")  # e.g. survey, board, decided
INSURED_NUMBER = SearchAttributeKey.for_keyword("InsuredNumber")  # 被保険者番号: the staff's tracking key
DUE_DATE = SearchAttributeKey.for_datetime("DueDate")  # next legal or policy deadline
OFFICE = SearchAttributeKey.for_keyword("Office")  # handling office code

ALL_KEYS: tuple[SearchAttributeKey, ...] = (CASE_TYPE, CASE_STAGE, INSURED_NUMBER, DUE_DATE, OFFICE)

_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
}


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` pairs for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


async def missing_search_attributes(client: Client, namespace: str) -> list[SearchAttributeKey]:
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return [key for key in ALL_KEYS if key.name not in existing.custom_attributes]


async def add_search_attributes(client: Client, namespace: str, keys: Sequence[SearchAttributeKey]) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={k.name: IndexedValueType.ValueType(int(k.indexed_value_type)) for k in keys},
        )
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    missing = await missing_search_attributes(client, namespace)
    if missing:
        await add_search_attributes(client, namespace, missing)
