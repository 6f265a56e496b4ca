"""The one way kaigo processes talk to Temporal: same namespace, same data converter everywhere."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from kaigo.config import Settings


def data_converter() -> DataConverter:
    return pydantic_data_converter


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to TEMPORAL_ADDRESS. `lazy` defers the first RPC (the API starts even if Temporal is down)."""
    return await Client.connect(
        settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
        lazy=lazy,
    )
