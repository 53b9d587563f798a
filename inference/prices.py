"""Token prices per model and the integer cost of one call.

Rates are integer micro-USD per million tokens ($2.00 / MTok == 2_000_000), so the cost of a
call is one integer product-sum divided once, rounded up: no float ever reaches an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

from inference.provider import Usage

PRICES_ENV_VAR = "AIWF_PRICES_FILE"
PACKAGED_PRICES = Path(__file__).with_name("prices.toml")
_TOKENS_PER_RATE_UNIT = 1_000_000


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    input: int  # micro-USD per million uncached input tokens
    output: int  # micro-USD per million output tokens (thinking included)
    cache_write: int  # micro-USD per million 5-minute cache-write tokens
    cache_read: int  # micro-USD per million cache-hit tokens


class PriceTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    models: dict[str, ModelPrice] = msgspec.field(default_factory=dict)


class Cost(msgspec.Struct, frozen=True, kw_only=True):
    micro_usd: int
    priced: bool  # False: the model is not in the table and micro_usd is a placeholder 0


def prices_path_from_env(environ: Mapping[str, str]) -> Path | None:
    """The caller reads the environment; load_prices stays a function of its argument."""
    value = environ.get(PRICES_ENV_VAR, "").strip()
    return Path(value) if value else None


def load_prices(path: Path | None = None) -> PriceTable:
    """Load a price table; None means the file shipped next to this module."""
    table = msgspec.toml.decode((path or PACKAGED_PRICES).read_bytes(), type=PriceTable)
    negative = sorted(name for name, price in table.models.items() if min(_rates(price)) < 0)
    if negative:
        raise ValueError(f"negative prices for {negative}")
    return table


def cost_micro_usd(prices: PriceTable, model: str, usage: Usage) -> Cost:
    """Cost of one call, rounded up to the next micro-USD so sums never under-count."""
    price = prices.models.get(model)
    if price is None:
        return Cost(micro_usd=0, priced=False)
    scaled = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    )
    return Cost(micro_usd=-(-scaled // _TOKENS_PER_RATE_UNIT), priced=True)


def _rates(price: ModelPrice) -> tuple[int, int, int, int]:
    return (price.input, price.output, price.cache_write, price.cache_read)
