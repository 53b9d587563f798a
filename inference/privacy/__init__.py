"""Privacy classifier: finds Algerian sensitive business data in text about to leave the process.

`sensitive` (CCP, RIP, RIB, IBAN, NIF, NIS, RC, invoices) keeps the text on the local model, failing
closed; `internal` (phones, e-mails) may go out pseudonymised. Pure functions, no I/O. ADR 0010.
"""

from __future__ import annotations

from domain.types import Sensitivity
from inference.privacy.classifier import classify, classify_many, sensitivity_of
from inference.privacy.redaction import pseudonymise, redact, restore
from inference.privacy.types import (
    KIND_SENSITIVITY,
    Classification,
    Confidence,
    Finding,
    Kind,
    max_sensitivity,
)

__all__ = [
    "KIND_SENSITIVITY",
    "Classification",
    "Confidence",
    "Finding",
    "Kind",
    "Sensitivity",
    "classify",
    "classify_many",
    "max_sensitivity",
    "pseudonymise",
    "redact",
    "restore",
    "sensitivity_of",
]
