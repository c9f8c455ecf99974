"""Deterministic, realistic rows for the shop schema, as COPY text, one chunk at a time.

Calling Faker per row is about 100 times too slow for a million rows, so Faker
(seeded) fills small value pools once; rows combine pool values with a
``random.Random`` seeded per (seed, table, chunk), so any chunk can be generated
on its own, in any process, and always gives the same rows. Values several
tables must agree on (an order's time, an item's product and price, the order
total a payment carries) come from ``mix()``, a hash of the row id, so they need
no shared state between chunks.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_FIRST_HOUR = datetime.datetime(2022, 1, 1, tzinfo=datetime.UTC)
_SPAN_HOURS = 3 * 365 * 24  # orders spread over three years
_SLACK_HOURS = 24 * 10  # room after the span for shipping and delivery
_CARRIERS = ("UPS", "FedEx", "DHL", "USPS", "GLS")
_PAYMENT_METHODS = ("card", "card", "card", "paypal", "bank_transfer", "gift_card")
_ADDRESS_KINDS = ("shipping", "billing")
_OPEN_ORDER_STATUSES = ("pending", "pending", "pending", "cancelled")
_STOCK_LEVELS = [str(level) for level in range(500)]
_QUANTITIES = ("1", "2", "3", "4")
# Tables whose ids other tables pick at random.
_PICKED_IDS = ("categories", "suppliers", "warehouses", "customers", "products")


def mix(value: int, salt: int) -> int:
    """A 48-bit hash of ``value``: cheap, deterministic, well spread."""
    z = ((value ^ salt) * _GOLDEN) & _MASK64
    return (z ^ (z >> 29)) >> 16


def seeded_random(*parts: object) -> random.Random:
    """A PRNG for fake data: reproducible from the seed on purpose, so never for secrets."""
    return random.Random(":".join(map(str, parts)))  # noqa: S311


def mix_many(values: range, salt: int) -> list[int]:
    """``[mix(v, salt) for v in values]`` without a call per value (the hot loop of the large tables)."""
    return [((z := ((v ^ salt) * _GOLDEN) & _MASK64) ^ (z >> 29)) >> 16 for v in values]


def _clean(text: str) -> str:
    """COPY text format treats tab, newline and backslash specially: keep values plain."""
    return text.replace("\t", " ").replace("\n", " ").replace("\\", "/")


@dataclass
class Pools:
    """Realistic values drawn once from a seeded Faker."""

    first_names: list[str]
    last_names: list[str]
    domains: list[str]
    phones: list[str]
    companies: list[str]
    streets: list[str]
    cities: list[str]
    postcodes: list[str]
    countries: list[str]
    words: list[str]
    sentences: list[str]
    titles: list[str]
    paragraphs: list[str]
    price_cents: list[int]
    birth_dates: list[str]
    timestamps: list[str]
    hours: list[str]
    minutes: list[str]


def build_pools(seed: int) -> Pools:
    from faker import Faker  # imported here: a re-run that changes nothing never needs it

    fake = Faker("en_US", use_weighting=False)
    fake.seed_instance(seed)
    rng = seeded_random(seed, "pools")

    def draw(make: Callable[[], str], count: int) -> list[str]:
        return [_clean(make()) for _ in range(count)]

    birth_start = datetime.date(1950, 1, 1).toordinal()
    return Pools(
        first_names=draw(fake.first_name, 1500),
        last_names=draw(fake.last_name, 1500),
        domains=sorted(set(draw(fake.free_email_domain, 200))),
        phones=draw(fake.phone_number, 1000),
        companies=draw(fake.company, 1000),
        streets=draw(fake.street_address, 1200),
        cities=draw(fake.city, 800),
        postcodes=draw(fake.postcode, 2000),
        countries=draw(fake.country_code, 300),
        words=sorted(set(draw(fake.word, 1500))),
        sentences=draw(fake.sentence, 1000),
        titles=draw(lambda: fake.sentence(nb_words=4).rstrip("."), 600),
        paragraphs=draw(lambda: fake.paragraph(nb_sentences=3), 500),
        # Log-uniform prices between 1 and 1,000 (most goods are cheap, a few are not).
        price_cents=[int(100 * 10 ** rng.uniform(0, 3)) for _ in range(5000)],
        birth_dates=[datetime.date.fromordinal(birth_start + rng.randrange(20_000)).isoformat() for _ in range(4000)],
        timestamps=[
            f"{(_FIRST_HOUR + datetime.timedelta(seconds=rng.randrange(_SPAN_HOURS * 3600))):%Y-%m-%d %H:%M:%S}+00"
            for _ in range(20_000)
        ],
        hours=[
            (_FIRST_HOUR + datetime.timedelta(hours=h)).strftime("%Y-%m-%d %H")
            for h in range(_SPAN_HOURS + _SLACK_HOURS)
        ],
        minutes=[f"{m // 60:02d}:{m % 60:02d}+00" for m in range(3600)],
    )


class SeedContext:
    """Row counts, pools and salts for one seed: everything a chunk needs to generate its rows.

    Built once before the workers fork; lookups that every row needs (ids as
    text, product prices) are precomputed here so the per-row work stays small.
    """

    def __init__(self, seed: int, counts: dict[str, int], pools: Pools) -> None:
        self.seed = seed
        self.counts = counts
        self.pools = pools
        salts = seeded_random(seed, "salts")
        self.salt_item = salts.getrandbits(64)
        self.salt_price = salts.getrandbits(64)
        self.salt_time = salts.getrandbits(64)
        self.id_text = {name: [str(i) for i in range(1, counts[name] + 1)] for name in _PICKED_IDS}
        prices = pools.price_cents
        self.price_cents = [0] + [
            prices[mix(p, self.salt_price) % len(prices)] for p in range(1, counts["products"] + 1)
        ]
        self.price_text = [_money(cents) for cents in self.price_cents]

    def pick_ids(self, rng: random.Random, table: str, count: int) -> list[str]:
        """``count`` random ids of ``table``, as text."""
        return rng.choices(self.id_text[table], k=count)

    # Values shared between tables -------------------------------------------------

    def product_price(self, product_id: int) -> int:
        return self.price_cents[product_id]

    def item_product_and_quantity(self, item_id: int) -> tuple[int, int]:
        h = mix(item_id, self.salt_item)
        return h % self.counts["products"] + 1, 1 + (h >> 24) % 4

    def item_order(self, item_id: int) -> int:
        return (item_id - 1) % self.counts["orders"] + 1

    def order_total(self, order_id: int) -> int:
        """Cents: the sum of the order's items (items o, o + orders, o + 2 * orders, ...)."""
        total = 0
        for item_id in range(order_id, self.counts["order_items"] + 1, self.counts["orders"]):
            product_id, quantity = self.item_product_and_quantity(item_id)
            total += quantity * self.product_price(product_id)
        return total

    def order_hour(self, order_id: int) -> int:
        """Orders are placed in id order over the span, as a real shop's are."""
        return (order_id - 1) * _SPAN_HOURS // self.counts["orders"]

    def shipping_hours(self, order_id: int, h: int) -> tuple[int, int | None]:
        """Shipped and delivered hours (None: in transit); ``h`` is ``mix(order_id, salt_time)``."""
        shipped = self.order_hour(order_id) + 12 + h % 60
        delivered = shipped + 24 + (h >> 8) % 120
        in_transit = h % 23 == 0 or delivered >= _SPAN_HOURS + _SLACK_HOURS
        return shipped, None if in_transit else delivered

    def timestamp(self, hour: int, h: int) -> str:
        """The hour's timestamp at a minute and second picked by the hash ``h``."""
        return f"{self.pools.hours[hour]}:{self.pools.minutes[h % 3600]}"

    def order_timestamps(self, ids: range, hashes: list[int], hours_later: int = 0) -> list[str]:
        hours, minutes, orders = self.pools.hours, self.pools.minutes, self.counts["orders"]
        return [
            f"{hours[(i - 1) * _SPAN_HOURS // orders + hours_later]}:{minutes[h % 3600]}"
            for i, h in zip(ids, hashes, strict=True)
        ]

    def random_timestamps(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.pools.timestamps, k=count)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _copy_text(columns: Iterable[Iterable[str]]) -> str:
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def _ids(first: int, last: int) -> range:
    return range(first, last + 1)


def _categories(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    words = ctx.pools.words
    names = [f"{a.title()} {b.title()}" for a, b in zip(rng.choices(words, k=n), rng.choices(words, k=n), strict=True)]
    slugs = [f"{name.lower().replace(' ', '-')}-{i}" for name, i in zip(names, ids, strict=True)]
    return [map(str, ids), names, slugs, rng.choices(ctx.pools.sentences, k=n)]


def _suppliers(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    domains = rng.choices(ctx.pools.domains, k=n)
    return [
        map(str, ids),
        rng.choices(ctx.pools.companies, k=n),
        [f"sales{i}@{d}" for i, d in zip(ids, domains, strict=True)],
        rng.choices(ctx.pools.phones, k=n),
        rng.choices(ctx.pools.countries, k=n),
        ctx.random_timestamps(rng, n),
    ]


def _warehouses(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    return [
        map(str, ids),
        [f"WH-{i:04d}" for i in ids],
        rng.choices(ctx.pools.cities, k=n),
        rng.choices(ctx.pools.countries, k=n),
    ]


def _customers(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    first = rng.choices(ctx.pools.first_names, k=n)
    last = rng.choices(ctx.pools.last_names, k=n)
    domains = rng.choices(ctx.pools.domains, k=n)
    emails = [f"{f}.{la}{i}@{d}".lower() for f, la, i, d in zip(first, last, ids, domains, strict=True)]
    return [
        map(str, ids),
        first,
        last,
        emails,
        rng.choices(ctx.pools.phones, k=n),
        rng.choices(ctx.pools.birth_dates, k=n),
        ctx.random_timestamps(rng, n),
    ]


def _products(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    words = ctx.pools.words
    names = [
        f"{a.title()} {b} {i % 1000}"
        for a, b, i in zip(rng.choices(words, k=n), rng.choices(words, k=n), ids, strict=True)
    ]
    return [
        map(str, ids),
        ctx.pick_ids(rng, "categories", n),
        ctx.pick_ids(rng, "suppliers", n),
        [f"SKU-{i:09d}" for i in ids],
        names,
        rng.choices(ctx.pools.sentences, k=n),
        ctx.price_text[ids.start : ids.stop],
        ctx.random_timestamps(rng, n),
    ]


def _addresses(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    # Address c belongs to customer c, so every customer has one and orders can ship there.
    n = len(ids)
    customers = ctx.counts["customers"]
    return [
        map(str, ids),
        [str((i - 1) % customers + 1) for i in ids],
        [_ADDRESS_KINDS[i > customers] for i in ids],
        rng.choices(ctx.pools.streets, k=n),
        rng.choices(ctx.pools.cities, k=n),
        rng.choices(ctx.pools.postcodes, k=n),
        rng.choices(ctx.pools.countries, k=n),
    ]


def _inventory(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    # Row r stocks product r in the first warehouse, then the next warehouse, ...: (product, warehouse) is unique.
    products = ctx.counts["products"]
    return [
        map(str, ids),
        [str((i - 1) % products + 1) for i in ids],
        [str((i - 1) // products + 1) for i in ids],
        rng.choices(_STOCK_LEVELS, k=len(ids)),
        ctx.random_timestamps(rng, len(ids)),
    ]


def _order_status(ctx: SeedContext, rng: random.Random, order_id: int, h: int) -> str:
    if order_id <= ctx.counts["shipments"]:
        return "shipped" if ctx.shipping_hours(order_id, h)[1] is None else "delivered"
    if order_id <= ctx.counts["payments"]:
        return "paid"
    return rng.choice(_OPEN_ORDER_STATUSES)


def _orders(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    customers = ctx.pick_ids(rng, "customers", len(ids))
    hashes = mix_many(ids, ctx.salt_time)
    return [
        map(str, ids),
        customers,
        customers,  # the customer's own address (see _addresses)
        [_order_status(ctx, rng, i, h) for i, h in zip(ids, hashes, strict=True)],
        ctx.order_timestamps(ids, hashes),
    ]


def _order_items(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    # Same arithmetic as SeedContext.item_product_and_quantity, one list at a time.
    hashes = mix_many(ids, ctx.salt_item)
    products = [h % ctx.counts["products"] + 1 for h in hashes]
    orders = ctx.counts["orders"]
    return [
        map(str, ids),
        [str((i - 1) % orders + 1) for i in ids],
        map(str, products),
        [_QUANTITIES[(h >> 24) % 4] for h in hashes],
        [ctx.price_text[product] for product in products],
    ]


def _payments(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    # Payment p pays order p, for the order's total, shortly after it was placed.
    n = len(ids)
    return [
        map(str, ids),
        map(str, ids),
        rng.choices(_PAYMENT_METHODS, k=n),
        [_money(ctx.order_total(i)) for i in ids],
        ["captured"] * n,
        ctx.order_timestamps(ids, mix_many(ids, ctx.salt_time), hours_later=1),
    ]


def _shipments(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    hashes = mix_many(ids, ctx.salt_time)
    hours = [ctx.shipping_hours(i, h) for i, h in zip(ids, hashes, strict=True)]
    return [
        map(str, ids),
        map(str, ids),
        ctx.pick_ids(rng, "warehouses", n),
        rng.choices(_CARRIERS, k=n),
        [f"1Z{h % 10**12:012d}" for h in mix_many(ids, ctx.salt_item)],
        [ctx.timestamp(shipped, h) for (shipped, _), h in zip(hours, hashes, strict=True)],
        [
            "\\N" if delivered is None else ctx.timestamp(delivered, h)
            for (_, delivered), h in zip(hours, hashes, strict=True)
        ],
    ]


def _reviews(ctx: SeedContext, rng: random.Random, ids: range) -> list:
    n = len(ids)
    return [
        map(str, ids),
        ctx.pick_ids(rng, "products", n),
        ctx.pick_ids(rng, "customers", n),
        rng.choices("12345", weights=(5, 5, 15, 35, 40), k=n),
        rng.choices(ctx.pools.titles, k=n),
        rng.choices(ctx.pools.paragraphs, k=n),
        ctx.random_timestamps(rng, n),
    ]


GENERATORS: dict[str, Callable[[SeedContext, random.Random, range], list]] = {
    "categories": _categories,
    "suppliers": _suppliers,
    "warehouses": _warehouses,
    "customers": _customers,
    "products": _products,
    "addresses": _addresses,
    "inventory": _inventory,
    "orders": _orders,
    "order_items": _order_items,
    "payments": _payments,
    "shipments": _shipments,
    "reviews": _reviews,
}


def chunk_rows(ctx: SeedContext, table: str, chunk: int, first: int, last: int) -> str:
    """The COPY text of rows ``first``..``last`` of ``table``: the same for the same seed, always."""
    rng = seeded_random(ctx.seed, table, chunk)
    return _copy_text(GENERATORS[table](ctx, rng, _ids(first, last)))
