"""What a process that calls models says about each provider it may call: a value the gateway gives,
the process publishes, and the API shows (docs/adr/0028-operations-api.md).

It lives here because three layers that may not import one another share it: the gateway
(`inference/`) makes it, the publisher (`infra/`) stores it, the API (`api/`) reads it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

ProviderTarget = Literal["local", "cloud", "offline"]
CircuitName = Literal["closed", "open", "half_open"]
Locality = Literal["local", "cloud"]  # on this machine (or in process), or sent to a cloud service


class ProviderStatus(msgspec.Struct, frozen=True, kw_only=True):
    target: ProviderTarget
    name: str  # the provider's name, as InferenceDecided records it (`anthropic`, `vllm`, `offline`)
    model: str  # the model id configured for the target
    locality: Locality
    circuit: CircuitName
    failures: int  # consecutive transient failures (at least the opening threshold while not closed)
