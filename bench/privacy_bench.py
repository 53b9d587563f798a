"""Privacy classifier speed: throughput over a ≥ 5 MB mixed corpus and per-message latency.

    python -m bench.privacy_bench [--megabytes 6] [--seed 7] [--rounds 5] [--stress]

The baseline is the cheapest scanner one could write for the job, a single precompiled
`re.finditer(r"\\d[\\d .-]{6,}\\d")` over the same text: the ratio says what the classifier costs
on top of merely looking at the digits.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections.abc import Callable, Sequence

from inference.privacy import classify
from inference.privacy.checksums import ccp_key, rib_key, rip_key

_BASELINE = re.compile(r"\d[\d .-]{6,}\d")
_DOCUMENT = 64 * 1024  # agent findings and tool results arrive as documents of this order

# (weight, template). Weights follow what the platform carries: mostly chat and tool results about
# orders and deliveries, now and then a phone or an e-mail, rarely an account, an id or an invoice.
_REALISTIC = (
    (10, "Bonjour, la commande #{n4} de {q} articles est partie avec Yalidine, livraison le {d}/{m}/2025."),
    (8, "Salam khoya, el colis #{n4} wsal? 9al li {q} pièces b {a} DA, n3ayet demain {d}/{m}."),
    (8, "The Shopify order #{n4} has {q} items and ships to Oran on 2025-{m}-{d}; subtotal {a} DZD."),
    (8, "مرحبا، تم شحن الطلب رقم {n4} اليوم، المبلغ {a} دج، التسليم خلال {q} أيام."),
    (6, "@karim can you check the Q{q} report for 2024 and 2025 before the {d}th? Slack thread #{n4}."),
    (6, "Stock update: SKU-{n4} now {a} units, reorder point {q}0, lead time {q} days (2025-{m}-{d})."),
    (
        12,
        '{{"id": {n13}, "name": "#{n4}", "total_price": "{a}.00", "currency": "DZD", '
        '"created_at": "2025-{m}-{d}T10:12:00+01:00", '
        '"line_items": [{{"sku": "TSH-{n3}", "quantity": {q}}}], '
        '"shipping_address": {{"city": "Blida", "province": "Blida", "zip": "09000"}}, '
        '"tags": "cod, yalidine"}}',
    ),
    (
        6,
        "Agent finding: {q} orders late in Sétif this week, median delay {q}.5 days, {a} DA at risk. "
        "Yalidine says the hub reopened on {d}/{m}; I suggest a follow-up message to the {q}{q} customers "
        "and a discount code for orders above 5000 DA. See tickets #{n4} and #{n4}.",
    ),
    (5, "Rapport hebdo: {a} visites, {q}{q}0 paniers, taux de conversion {q}.{q} %, semaine {q}{q} de 2025."),
    (3, "La facture de {a} DA est payée, merci. Prochaine livraison le {d}/{m}."),
    (4, "Appelle le livreur au 0{op}{n2} {n2} {n2} {n2}, il attend devant le magasin."),
    (2, "Contact fournisseur: {name}@example.dz, tel +213 {op}{n2} {n2} {n2} {n2}."),
    (2, '{{"customer": {{"first_name": "Amina", "phone": "+213{op}{n8}", "email": "{name}@gmail.com"}}}}'),
    (1, "3andi compte ccp {ccp} clé {ccp_key}, ab3atli fih {a} DA"),
    (1, '{{"tool": "pay_supplier", "args": {{"account": "{rip}", "amount": {a}}}}}'),
    (
        1,
        "Fournisseur SARL Atlas, NIF {nif}, NIS {nis}, RC n° 16/00-{n7} B {q}{q}, RIB 001 00123 {n10} {rib}",
    ),
    (1, "FACTURE N° 2025/{n4}\nClient: Sarl Nour\nTotal HT {a} DA\nTVA 19% {a} DA\nTTC {a} DA\nNIF {nif}"),
)
# Every message carries long numbers and three in ten carry identifiers: the worst case, not the usual.
_STRESS = (
    *((7, template) for _, template in _REALISTIC[:10]),
    *((15 / 4, template) for _, template in _REALISTIC[10:14]),
    *((15 / 4, template) for _, template in _REALISTIC[14:]),
    (3.75, "Merci de virer sur mon RIP {rip} avant le {d}/{m}."),
    (3.75, "الحساب البريدي الجاري رقم {ccp} المفتاح {ccp_key}"),
    (3.75, "Agent finding: supplier IBAN DZ59 0079 9999 {n4} {n4} {n4}, flagged for review."),
)


def corpus(megabytes: float, seed: int, *, stress: bool = False) -> list[str]:
    """Messages drawn from the weighted templates until `megabytes` of UTF-8."""
    rng = random.Random(seed)
    table = _STRESS if stress else _REALISTIC
    weights = [weight for weight, _ in table]
    messages: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        template = rng.choices(table, weights)[0][1]
        message = _fill(template, rng)
        messages.append(message)
        size += len(message.encode()) + 1
    return messages


def _fill(template: str, rng: random.Random) -> str:
    def digits(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    ccp = str(rng.randrange(10**5, 10**10))
    n10 = digits(10)
    return template.format(
        **{f"n{k}": digits(k) for k in (2, 3, 4, 7, 8, 13)},
        n10=n10,
        q=rng.randrange(1, 10),
        a=rng.randrange(100, 500_000),
        d=f"{rng.randrange(1, 29):02d}",
        m=f"{rng.randrange(1, 13):02d}",
        op=rng.choice("567"),
        name=rng.choice(("karim", "amina", "yacine", "sara", "contact", "compta")),
        ccp=ccp,
        ccp_key=f"{ccp_key(ccp):02d}",
        rip=f"00799999{ccp.zfill(10)}{rip_key(ccp):02d}",
        rib=f"{rib_key('00123' + n10):02d}",
        nif=digits(15),
        nis=digits(15),
    )


def documents(messages: Sequence[str]) -> list[str]:
    docs: list[str] = []
    current: list[str] = []
    size = 0
    for message in messages:
        current.append(message)
        size += len(message) + 1
        if size >= _DOCUMENT:
            docs.append("\n".join(current))
            current, size = [], 0
    if current:
        docs.append("\n".join(current))
    return docs


def throughput(texts: Sequence[str], scans: Sequence[Callable[[str], object]], rounds: int) -> list[float]:
    """MB/s (10^6 bytes of UTF-8) of each scan, best of `rounds`.

    Rounds alternate between the scans and count CPU time, not wall time, so that another process
    on the machine slows neither side of the ratio.
    """
    size = sum(len(text.encode()) for text in texts)
    best = [float("inf")] * len(scans)
    for _ in range(rounds):
        for index, scan in enumerate(scans):
            began = time.process_time()
            for text in texts:
                scan(text)
            best[index] = min(best[index], time.process_time() - began)
    return [size / seconds / 1e6 for seconds in best]


def latencies(messages: Sequence[str], sample: int) -> list[float]:
    """Microseconds per classify() call on `sample` messages, each timed alone."""
    out: list[float] = []
    for message in messages[:sample]:
        began = time.perf_counter_ns()
        classify(message)
        out.append((time.perf_counter_ns() - began) / 1000)
    return out


def baseline(text: str) -> int:
    return sum(1 for _ in _BASELINE.finditer(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--megabytes", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stress", action="store_true", help="long numbers everywhere, 30%% identifiers")
    args = parser.parse_args()
    messages = corpus(args.megabytes, args.seed, stress=args.stress)
    docs = documents(messages)
    total = sum(len(message.encode()) + 1 for message in messages) / 1e6
    kind = "stress" if args.stress else "realistic"
    print(f"{kind} corpus: {total:.2f} MB, {len(messages)} messages, {len(docs)} documents of ~64 KiB\n")
    on_documents = throughput(docs, (baseline, classify), args.rounds)
    on_messages = throughput(messages, (baseline, classify), args.rounds)
    print(f"{'scan':28s} {'MB/s':>8s} {'vs baseline':>12s}")
    for unit, (base, speed) in (("documents", on_documents), ("messages", on_messages)):
        print(f"{'baseline regex, ' + unit:28s} {base:8.1f} {1:11.2f}x")
        print(f"{'classify, ' + unit:28s} {speed:8.1f} {speed / base:11.2f}x")
    times = sorted(latencies(messages, 20_000))
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
    print(
        f"\nlatency per message (n={len(times)}): p50 {p50:.1f} µs, p99 {p99:.1f} µs, max {times[-1]:.1f} µs"
    )


if __name__ == "__main__":
    main()
