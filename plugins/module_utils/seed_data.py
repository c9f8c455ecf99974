"""Deterministic, realistic rows for the shop schema, as COPY text, one block of ids at a time.

Calling Faker per row is about 100 times too slow for a million rows, so Faker
(seeded) fills small value pools once and rows combine pool values. Only the
tables in ``FAKER_TABLES`` need those pools: the others (orders and the rows
that hang off them) use calendar text, prices and ids, so they can load while
the pools are still being drawn. Every
random choice comes from a keyed byte stream: SHAKE-128 of (seed, table,
column, block of ``BLOCK_ROWS`` ids). A row's values therefore depend only on
the seed and its id, never on how the ids are split into chunks or workers,
and any table can recompute another table's draws (a payment recomputes its
order's items to carry their total) without shared state. Turning the stream
into values is C-level list work (``map`` over a 65,536-entry wheel of a pool)
rather than a Python call per row: that is what makes a million rows cheap.
"""

from __future__ import annotations

import collections
import datetime
import functools
import hashlib
import operator
import random
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields

# Ids per keyed stream. Also the unit the loader streams to COPY, so the server
# parses one block while the next one is generated.
BLOCK_ROWS = 5_000

_WHEEL_SIZE = 1 << 16  # a 16-bit word picks a wheel entry directly
_FIRST_DAY = datetime.date(2022, 1, 1)
_SPAN_HOURS = 3 * 365 * 24  # orders spread over three years
_SLACK_HOURS = 24 * 10  # room after the span for shipping and delivery
_CARRIERS = ("UPS", "FedEx", "DHL", "USPS", "GLS")
_PAYMENT_METHODS = ("card", "card", "card", "paypal", "bank_transfer", "gift_card")
_OPEN_ORDER_STATUSES = ("pending", "pending", "pending", "cancelled")
_RATINGS = ("1",) * 5 + ("2",) * 5 + ("3",) * 15 + ("4",) * 35 + ("5",) * 40
_QUANTITIES = 4  # an order item holds 1 to 4 units
# Tables whose ids other tables pick at random.
_PICKED_IDS = ("categories", "suppliers", "warehouses", "customers", "products")
# Their ids are kept as a list of text up to this many, above it made into text per pick (the same text: so many
# ids never have a wheel, and both pick by remainder). It bounds a worker's memory for seeds of many millions.
_ID_LIST_LIMIT = 1 << 19
_SHIPPED, _DELIVERED, _PAID = "shipped", "delivered", "paid"
# Tables whose rows use the Faker pools (names, addresses, text).
FAKER_TABLES = frozenset({"categories", "suppliers", "warehouses", "customers", "products", "addresses", "reviews"})


def seeded_random(*parts: object) -> random.Random:
    """A PRNG for fake data: reproducible from the seed on purpose, so never for secrets."""
    return random.Random(":".join(map(str, parts)))  # noqa: S311


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


def _calendar_hours() -> list[str]:
    days = (_SPAN_HOURS + _SLACK_HOURS) // 24
    dates = [(_FIRST_DAY + datetime.timedelta(days=d)).isoformat() for d in range(days)]
    return [f"{date} {hour:02d}" for date in dates for hour in range(24)]


def build_pools(seed: int) -> Pools:
    from faker import Faker  # imported here: a re-run that changes nothing never needs it

    fake = Faker("en_US", use_weighting=False)
    fake.seed_instance(seed)

    def draw(make: Callable[[], str], count: int) -> list[str]:
        return [_clean(make()) for _ in range(count)]

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
    )


def _prices_and_birth_dates(seed: int) -> tuple[list[int], list[str]]:
    rng = seeded_random(seed, "pools")
    # Log-uniform prices between 1 and 1,000 (most goods are cheap, a few are not).
    price_cents = [int(100 * 10 ** rng.uniform(0, 3)) for _ in range(5000)]
    birth_start = datetime.date(1950, 1, 1).toordinal()
    birth_dates = [datetime.date.fromordinal(birth_start + rng.randrange(20_000)).isoformat() for _ in range(4000)]
    return price_cents, birth_dates


def _wheel(values: Sequence[str]) -> list[str]:
    """``values`` repeated to 65,536 entries, so a 16-bit word picks one (each value equally often, to within 1)."""
    return (list(values) * (_WHEEL_SIZE // len(values) + 1))[:_WHEEL_SIZE]


def _wheels(values: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """A wheel for every list short enough to have one (longer ones are picked from by remainder)."""
    return {name: _wheel(population) for name, population in values.items() if len(population) <= _WHEEL_SIZE}


_DECIMALS = [f".{cents:02d}" for cents in range(100)]


def _money(amounts: Iterable[int]) -> list[str]:
    """Amounts in cents as decimal text (a table lookup: format specs cost more than the rest of a row)."""
    return [f"{cents // 100}{_DECIMALS[cents % 100]}" for cents in amounts]


def _id_texts(first: int, last: int) -> list[str]:
    return list(map(str, range(first, last + 1)))


class _Segments:
    """The values of ids 1..``limit``, built a segment at a time on first use; the segments used last are kept.

    A worker slices them per block instead of computing them per row again, while its memory stays bounded
    however many rows are seeded (one segment covers every id of a seed of a few million rows).
    """

    SIZE = 1 << 19
    KEPT = 3  # a table's own ids, its parent's (cyclic) ids, and one spare

    def __init__(self, build: Callable[[int, int], list], limit: int) -> None:
        self._build, self._limit = build, limit
        self._segments: collections.OrderedDict[int, list] = collections.OrderedDict()

    def _segment(self, index: int) -> list:
        segment = self._segments.get(index)
        if segment is None:
            if len(self._segments) >= self.KEPT:
                self._segments.popitem(last=False)
            first = index * self.SIZE + 1
            segment = self._segments[index] = self._build(first, min(first + self.SIZE - 1, self._limit))
        else:
            self._segments.move_to_end(index)
        return segment

    def slice(self, start: int, stop: int) -> list:
        """The values of ids ``start`` .. ``stop - 1``."""
        index, offset = divmod(start - 1, self.SIZE)
        values = self._segment(index)[offset : offset + stop - start]
        while start + len(values) < stop:  # the ids run on into the next segment
            index += 1
            values += self._segment(index)[: stop - start - len(values)]
        return values


class SeedContext:
    """Row counts, value lists and wheels for one seed: everything a block of rows needs.

    Built once before the workers fork, without the Faker pools (``add_pools``
    adds them when they are drawn); lookups that many rows share (wheels of
    the values, ids as text, an order item's product, quantity and price as
    text) are built once, here or on first use in a worker, so the per-row
    work stays small.
    """

    def __init__(self, seed: int, counts: dict[str, int], pools: Pools | None = None) -> None:
        self.seed = seed
        self.counts = counts
        self._price_levels, birth_dates = _prices_and_birth_dates(seed)
        hours = _calendar_hours()
        self.values: dict[str, Sequence[str]] = dict(
            birth_dates=birth_dates,
            hours=hours,
            minutes=[f":{s // 60:02d}:{s % 60:02d}+00" for s in range(3600)],
            carriers=_CARRIERS,
            payment_methods=_PAYMENT_METHODS,
            open_statuses=_OPEN_ORDER_STATUSES,
            ratings=_RATINGS,
            stock_levels=[str(level) for level in range(500)],
            digits4=[f"{number:04d}" for number in range(10_000)],
            span_hours=hours[:_SPAN_HOURS],
        )
        self.values.update({name: _id_texts(1, counts[name]) for name in _PICKED_IDS if counts[name] <= _ID_LIST_LIMIT})
        self.wheels = _wheels(self.values)
        self.has_pools = False
        if pools is not None:
            self.add_pools(pools)

    def add_pools(self, pools: Pools) -> None:
        """The values drawn from Faker, which only the tables in FAKER_TABLES use."""
        values = {field.name: getattr(pools, field.name) for field in fields(Pools)}
        values.update(
            first_names_lower=[name.lower() for name in pools.first_names],
            last_names_lower=[name.lower() for name in pools.last_names],
            words_title=[word.title() for word in pools.words],
        )
        self.values.update(values)
        self.wheels.update(_wheels(values))
        self.has_pools = True

    def words(self, table: str, column: str, ids: range, typecode: str = "H") -> array:
        """The random words of ``table.column`` for ``ids``: the same for an id whatever range asks for it."""
        out = array(typecode)
        size = out.itemsize
        for block in range((ids.start - 1) // BLOCK_ROWS, (ids.stop - 2) // BLOCK_ROWS + 1):
            block_first = block * BLOCK_ROWS + 1
            low = max(ids.start, block_first) - block_first
            high = min(ids.stop, block_first + BLOCK_ROWS) - block_first
            key = f"{self.seed}:{table}:{column}:{block}".encode()
            out.frombytes(hashlib.shake_128(key).digest(high * size)[low * size :])
        if sys.byteorder == "big":
            out.byteswap()  # words are little-endian on every machine
        return out

    def pick(self, table: str, column: str, ids: range, values: str) -> list[str]:
        """One of ``self.values[values]`` per id, uniformly at random."""
        wheel = self.wheels.get(values)
        if wheel is not None:
            return [wheel[word] for word in self.words(table, column, ids)]
        population = self.values.get(values)
        if population is None:  # ids above _ID_LIST_LIMIT: the text picking from their list would give
            size = self.counts[values]
            return [str(word % size + 1) for word in self.words(table, column, ids, "I")]
        size = len(population)
        return [population[word % size] for word in self.words(table, column, ids, "I")]

    # Values shared between tables -------------------------------------------------

    # Prices and order items are built by the one worker whose table needs them, on first use, rather than by the
    # parent while no worker has started yet.
    @functools.cached_property
    def price_cents(self) -> list[int]:
        """Every product's price in cents."""
        levels = self._price_levels
        words = self.words("products", "price", range(1, self.counts["products"] + 1), "I")
        return [levels[word % len(levels)] for word in words]

    @functools.cached_property
    def price_text(self) -> list[str]:
        return _money(self.price_cents)

    # An item picks one of products x quantities; its text and its amount, by that index: looked up in lists
    # built once up to _ID_LIST_LIMIT choices, above it computed per item (the same values, less memory).
    def item_texts(self, words: Iterable[int]) -> list[str]:
        """``product\tquantity\tunit price`` of the choice each word picks."""
        price_text = self.price_text
        return self._items(words, "item_text", lambda product, units: f"{product + 1}\t{units}\t{price_text[product]}")

    def item_amounts(self, words: Iterable[int]) -> list[int]:
        """The amount in cents of the choice each word picks."""
        price_cents = self.price_cents
        return self._items(words, "item_cents", lambda product, units: price_cents[product] * units)

    def _items(self, words: Iterable[int], listed: str, compute: Callable[[int, int], object]) -> list:
        """Each word's choice, ``compute(product index, units)``: from the list of every choice, made once and kept
        as the attribute ``listed``, or per item above _ID_LIST_LIMIT choices."""
        choices = self.counts["products"] * _QUANTITIES
        if choices > _ID_LIST_LIMIT:
            picks = (divmod(word % choices, _QUANTITIES) for word in words)
            return [compute(product, quantity + 1) for product, quantity in picks]
        lookup = getattr(self, listed, None)
        if lookup is None:
            units = range(1, _QUANTITIES + 1)
            lookup = [compute(product, unit) for product in range(self.counts["products"]) for unit in units]
            setattr(self, listed, lookup)
        return [lookup[word % choices] for word in words]

    # Ids as text and orders' hours, built by each loading worker on first use (not before the workers start,
    # which would delay them), a segment at a time.
    @functools.cached_property
    def _id_strings(self) -> _Segments:
        return _Segments(_id_texts, max(self.counts.values()))

    @functools.cached_property
    def _order_hours(self) -> _Segments:
        orders = self.counts["orders"]

        def hours(first: int, last: int) -> list[int]:  # order o is placed (o - 1) / orders into the span
            return [order * _SPAN_HOURS // orders for order in range(first - 1, last)]

        return _Segments(hours, orders)

    def ids(self, ids: range) -> list[str]:
        """The ids as text."""
        return self._id_strings.slice(ids.start, ids.stop)

    def cyclic_ids(self, ids: range, modulus: int) -> list[str]:
        """``str((i - 1) % modulus + 1)`` for every id: runs of consecutive ids, a slice at a time."""
        texts: list[str] = []
        start = ids.start
        while start < ids.stop:
            offset = (start - 1) % modulus
            run = min(ids.stop - start, modulus - offset)
            texts += self._id_strings.slice(offset + 1, offset + run + 1)
            start += run
        return texts

    def order_hours(self, ids: range) -> list[int]:
        """Hours into the span of orders ``ids``: orders are placed in id order over it, as a real shop's are."""
        return self._order_hours.slice(ids.start, ids.stop)

    def order_timestamps(self, ids: range, hours_later: int = 0) -> list[str]:
        hours = self.values["hours"]
        minutes = self.pick("orders", "minute", ids, "minutes")
        return [hours[hour + hours_later] + minute for hour, minute in zip(self.order_hours(ids), minutes, strict=True)]

    def shipping_hours(self, ids: range) -> tuple[list[int], list[int | None]]:
        """Shipped and delivered hours of orders ``ids`` (delivered None: still in transit)."""
        shipped = [
            hour + 12 + word % 60
            for hour, word in zip(self.order_hours(ids), self.words("orders", "ship", ids), strict=True)
        ]
        delays = self.words("orders", "delivery", ids)
        arrivals = [hour + 24 + word % 120 for hour, word in zip(shipped, delays, strict=True)]
        # One parcel in 23, and those that would arrive after the data ends, are still in transit.
        end = _SPAN_HOURS + _SLACK_HOURS
        delivered = [
            None if word % 23 == 0 or arrival >= end else arrival
            for arrival, word in zip(arrivals, delays, strict=True)
        ]
        return shipped, delivered

    def order_totals(self, ids: range) -> list[int]:
        """Cents: the sum of each order's items (items o, o + orders, o + 2 * orders, ...)."""
        orders, items = self.counts["orders"], self.counts["order_items"]
        totals = [0] * len(ids)
        for first_item in range(ids.start, items + 1, orders):
            picked = self.words("order_items", "item", range(first_item, min(first_item + len(ids), items + 1)), "I")
            amounts = self.item_amounts(picked)
            totals[: len(amounts)] = map(operator.add, totals[: len(amounts)], amounts)
        return totals

    def timestamps_between(self, table: str, column: str, ids: range) -> list[str]:
        """Random times over the span (when a row was created or updated)."""
        hours = self.pick(table, f"{column}_hour", ids, "span_hours")
        return list(map(operator.add, hours, self.pick(table, f"{column}_minute", ids, "minutes")))


def _copy_text(columns: list[Sequence[str]]) -> str:
    """Rows of tab-separated columns, each ending with a newline: the values go between separators laid out for
    the whole block, then one join (a join per row costs twice as much). Columns of unequal length raise."""
    width, rows = len(columns), len(columns[0])
    parts = (["\t"] * (2 * width - 1) + ["\n"]) * rows
    for position, column in enumerate(columns):
        parts[2 * position :: 2 * width] = column
    return "".join(parts)


def _categories(ctx: SeedContext, ids: range) -> list:
    pick = ctx.pick
    names = list(
        map(
            "{} {}".format,
            pick("categories", "word1", ids, "words_title"),
            pick("categories", "word2", ids, "words_title"),
        )
    )
    slugs = [f"{name.lower().replace(' ', '-')}-{i}" for name, i in zip(names, ids, strict=True)]
    return [ctx.ids(ids), names, slugs, pick("categories", "description", ids, "sentences")]


def _suppliers(ctx: SeedContext, ids: range) -> list:
    pick = ctx.pick
    domains = pick("suppliers", "domain", ids, "domains")
    return [
        ctx.ids(ids),
        pick("suppliers", "name", ids, "companies"),
        [f"sales{i}@{domain}" for i, domain in zip(ids, domains, strict=True)],
        pick("suppliers", "phone", ids, "phones"),
        pick("suppliers", "country", ids, "countries"),
        ctx.timestamps_between("suppliers", "created_at", ids),
    ]


def _warehouses(ctx: SeedContext, ids: range) -> list:
    return [
        ctx.ids(ids),
        [f"WH-{i:04d}" for i in ids],
        ctx.pick("warehouses", "city", ids, "cities"),
        ctx.pick("warehouses", "country", ids, "countries"),
    ]


def _customers(ctx: SeedContext, ids: range) -> list:
    pick, words = ctx.pick, ctx.words
    # First and last names and their lower-case forms for the email come from the same words.
    first_words, last_words = words("customers", "first_name", ids), words("customers", "last_name", ids)
    first_names, last_names = ctx.wheels["first_names"], ctx.wheels["last_names"]
    first = [first_names[word] for word in first_words]
    last = [last_names[word] for word in last_words]
    emails = [
        f"{f}.{la}{i}@{d}"
        for f, la, i, d in zip(
            map(ctx.wheels["first_names_lower"].__getitem__, first_words),
            map(ctx.wheels["last_names_lower"].__getitem__, last_words),
            ids,
            pick("customers", "domain", ids, "domains"),
            strict=True,
        )
    ]
    return [
        ctx.ids(ids),
        first,
        last,
        emails,
        pick("customers", "phone", ids, "phones"),
        pick("customers", "birth_date", ids, "birth_dates"),
        ctx.timestamps_between("customers", "created_at", ids),
    ]


def _products(ctx: SeedContext, ids: range) -> list:
    pick = ctx.pick
    names = [
        f"{a} {b} {i % 1000}"
        for a, b, i in zip(
            pick("products", "word1", ids, "words_title"), pick("products", "word2", ids, "words"), ids, strict=True
        )
    ]
    return [
        ctx.ids(ids),
        pick("products", "category_id", ids, "categories"),
        pick("products", "supplier_id", ids, "suppliers"),
        [f"SKU-{i:09d}" for i in ids],
        names,
        pick("products", "description", ids, "sentences"),
        ctx.price_text[ids.start - 1 : ids.stop - 1],
        ctx.timestamps_between("products", "created_at", ids),
    ]


def _addresses(ctx: SeedContext, ids: range) -> list:
    # Address c belongs to customer c, so every customer has one and orders can ship there.
    customers = ctx.counts["customers"]
    shipping = max(0, min(ids.stop, customers + 1) - ids.start)
    pick = ctx.pick
    return [
        ctx.ids(ids),
        ctx.cyclic_ids(ids, customers),
        ["shipping"] * shipping + ["billing"] * (len(ids) - shipping),
        pick("addresses", "street", ids, "streets"),
        pick("addresses", "city", ids, "cities"),
        pick("addresses", "postcode", ids, "postcodes"),
        pick("addresses", "country", ids, "countries"),
    ]


def _inventory(ctx: SeedContext, ids: range) -> list:
    # Row r stocks product r in the first warehouse, then the next warehouse, ...: (product, warehouse) is unique.
    products = ctx.counts["products"]
    return [
        ctx.ids(ids),
        ctx.cyclic_ids(ids, products),
        [str((i - 1) // products + 1) for i in ids],
        ctx.pick("inventory", "quantity", ids, "stock_levels"),
        ctx.timestamps_between("inventory", "updated_at", ids),
    ]


def _split(ids: range, *bounds: int) -> list[range]:
    """``ids`` cut at each bound (ids up to the bound, then the rest)."""
    parts, start = [], ids.start
    for bound in (*bounds, ids.stop - 1):
        stop = max(start, min(ids.stop, bound + 1))
        parts.append(range(start, stop))
        start = stop
    return parts


def _order_statuses(ctx: SeedContext, ids: range) -> list[str]:
    """Shipped or delivered (as its shipment says), then paid, then pending or cancelled (not paid yet)."""
    shipped, paid, unpaid = _split(ids, ctx.counts["shipments"], ctx.counts["payments"])
    statuses = [_SHIPPED if hour is None else _DELIVERED for hour in ctx.shipping_hours(shipped)[1]] if shipped else []
    return statuses + [_PAID] * len(paid) + (ctx.pick("orders", "status", unpaid, "open_statuses") if unpaid else [])


def _orders(ctx: SeedContext, ids: range) -> list:
    customers = ctx.pick("orders", "customer_id", ids, "customers")
    return [
        ctx.ids(ids),
        customers,
        customers,  # the customer's own address (see _addresses)
        _order_statuses(ctx, ids),
        ctx.order_timestamps(ids),
    ]


def _order_items(ctx: SeedContext, ids: range) -> list:
    return [
        ctx.ids(ids),
        ctx.cyclic_ids(ids, ctx.counts["orders"]),
        # product, quantity and unit price, in one text (see SeedContext.order_totals for the same draw)
        ctx.item_texts(ctx.words("order_items", "item", ids, "I")),
    ]


def _payments(ctx: SeedContext, ids: range) -> list:
    # Payment p pays order p, for the order's total, an hour after it was placed.
    order_ids = ctx.ids(ids)
    return [
        order_ids,
        order_ids,
        ctx.pick("payments", "method", ids, "payment_methods"),
        _money(ctx.order_totals(ids)),
        ["captured"] * len(ids),
        ctx.order_timestamps(ids, hours_later=1),
    ]


def _tracking_numbers(ctx: SeedContext, ids: range) -> list[str]:
    """``1Z`` and twelve random digits, four at a time."""
    groups = [ctx.pick("shipments", f"tracking{part}", ids, "digits4") for part in range(3)]
    return [f"1Z{a}{b}{c}" for a, b, c in zip(*groups, strict=True)]


def _shipments(ctx: SeedContext, ids: range) -> list:
    # Shipment s ships order s.
    hours = ctx.values["hours"]
    shipped, delivered = ctx.shipping_hours(ids)
    shipped_minutes = ctx.pick("shipments", "shipped_minute", ids, "minutes")
    delivered_minutes = ctx.pick("shipments", "delivered_minute", ids, "minutes")
    order_ids = ctx.ids(ids)
    return [
        order_ids,
        order_ids,
        ctx.pick("shipments", "warehouse_id", ids, "warehouses"),
        ctx.pick("shipments", "carrier", ids, "carriers"),
        _tracking_numbers(ctx, ids),
        list(map(operator.add, map(hours.__getitem__, shipped), shipped_minutes)),
        [
            "\\N" if hour is None else hours[hour] + minute
            for hour, minute in zip(delivered, delivered_minutes, strict=True)
        ],
    ]


def _reviews(ctx: SeedContext, ids: range) -> list:
    pick = ctx.pick
    return [
        ctx.ids(ids),
        pick("reviews", "product_id", ids, "products"),
        pick("reviews", "customer_id", ids, "customers"),
        pick("reviews", "rating", ids, "ratings"),
        pick("reviews", "title", ids, "titles"),
        pick("reviews", "body", ids, "paragraphs"),
        ctx.timestamps_between("reviews", "created_at", ids),
    ]


GENERATORS: dict[str, Callable[[SeedContext, range], list]] = {
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


def rows(ctx: SeedContext, table: str, first: int, last: int) -> str:
    """The COPY text of rows ``first``..``last`` of ``table``: the same for the same seed, always."""
    return _copy_text(GENERATORS[table](ctx, range(first, last + 1)))


def blocks(ctx: SeedContext, table: str, first: int, last: int) -> Iterator[str]:
    """The COPY text of rows ``first``..``last``, one block of ids at a time (generated as it is consumed)."""
    for start in range(first, last + 1, BLOCK_ROWS):
        yield rows(ctx, table, start, min(start + BLOCK_ROWS - 1, last))
