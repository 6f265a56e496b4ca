"""The one way kaigo processes talk to Temporal: same namespace, same data converter everywhere."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from kaigo.config import Settings
from kaigo.security.keys import Keyring
from kaigo.security.payload_codec import EncryptionCodec


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, AES-GCM encrypted; failure messages and stack traces are encrypted too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(Keyring.parse(settings.payload_keys, name="PAYLOAD_KEYS")),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """Connect to TEMPORAL_ADDRESS. `lazy` defers the first RPC (the API starts even if Temporal is down)."""
    return await Client.connect(
        settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        lazy=lazy,
    )
