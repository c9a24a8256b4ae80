"""A small shop for assistant tests with known answers: films with directors, cast, genres and years, and
staplers and staples with brands, colours and prices (descriptions that name what they fit)."""

from __future__ import annotations

from pathlib import Path

from fathom.online.records import EventRecord, ItemRecord
from fathom.online.store import Store
from fathom.online.versions import train_version

FILMS = [  # id, title, year, genres, directors, cast, plot
    ("f1", "Fargo", 1996, ["Crime", "Drama", "Thriller"], ["Joel Coen"], ["Frances McDormand", "William H. Macy"],
     "A car salesman hires two criminals to kidnap his wife."),
    ("f2", "Blood Simple", 1984, ["Crime", "Thriller"], ["Joel Coen"], ["Frances McDormand", "John Getz"],
     "A bar owner hires a private detective."),
    ("f3", "Raising Arizona", 1987, ["Comedy", "Crime"], ["Joel Coen"], ["Nicolas Cage", "Holly Hunter"],
     "An ex-con and an ex-cop marry and steal a baby."),
    ("f4", "Toy Story", 1995, ["Animation", "Comedy"], ["John Lasseter"], ["Tom Hanks", "Tim Allen"],
     "A cowboy doll is threatened by a new spaceman figure."),
    ("f5", "Heat", 1995, ["Crime", "Drama"], ["Michael Mann"], ["Al Pacino", "Robert De Niro"],
     "A detective hunts a crew of thieves."),
    ("f6", "Groundhog Day", 1993, ["Comedy", "Romance"], ["Harold Ramis"], ["Bill Murray", "Andie MacDowell"],
     "A weatherman relives the same day."),
    ("f7", "The Big Lebowski", 1998, ["Comedy", "Crime"], ["Joel Coen"], ["Jeff Bridges", "John Goodman"],
     "A slacker is mistaken for a millionaire."),
    ("f8", "Annie Hall", 1977, ["Comedy", "Romance"], ["Woody Allen"], ["Woody Allen", "Diane Keaton"],
     "A comedian remembers a love affair."),
]
PRODUCTS = [  # id, title, brand, colour, price, category, description
    ("p1", "Stanley heavy duty stapler", "Stanley", "black", 29.99, "Staplers",
     "Steel staple gun for upholstery. Takes 1/2 inch staples."),
    ("p2", "Arrow T50 staple gun", "Arrow", "red", 24.50, "Staplers", "The classic staple gun for 1/2 inch staples."),
    ("p3", "Swingline desk stapler", "Swingline", "red", 12.00, "Staplers", "Desk stapler for 20 sheets."),
    ("p4", "Bostitch office stapler", "Bostitch", "black", 18.75, "Staplers", "Jam-free office stapler."),
    ("p5", "Stanley sharpshooter staples 1/2 inch", "Stanley", "silver", 6.49, "Staples",
     "Heavy duty narrow crown staples. Fits TR100, TR150 and Arrow T-50 staple guns."),
    ("p6", "Arrow T50 staples 3/8 inch", "Arrow", "silver", 5.99, "Staples", "Genuine Arrow staples, 1250 count."),
    ("p7", "Swingline standard staples", "Swingline", "silver", 3.25, "Staples", "Standard staples for desk staplers."),
]


def items() -> list[ItemRecord]:
    films = [ItemRecord(item_id=i, title=t, description=plot, numeric={"year": float(y)},
                        categorical={"genres": g, "directors": d, "cast": c, "category": ["Films"]})
             for i, t, y, g, d, c, plot in FILMS]
    products = [ItemRecord(item_id=i, title=t, description=desc, numeric={"price": price},
                           categorical={"brand": [b], "colour": [col], "category": [cat]})
                for i, t, b, col, price, cat, desc in PRODUCTS]
    return films + products


def events() -> list[EventRecord]:
    """Film fans (u0-u5) watch most films; makers (u6-u11) buy staplers and staples."""
    out = []
    films, products = [f[0] for f in FILMS], [p[0] for p in PRODUCTS]
    for u in range(12):
        pool = films if u < 6 else products
        for j in range(5):
            out.append(EventRecord(user_id=f"u{u}", item_id=pool[(u + j) % len(pool)], event="click",
                                   timestamp=1_000 + 10 * u + j))
    return out


def prepare_shop(folder: Path) -> Path:
    store = Store(folder)
    try:
        store.upsert_items(items())
        store.add_events(events())
        train_version(store, "ease", {"reg": 1.0}, activate=True)
    finally:
        store.close()
    return folder


FAQ = [
    {"id": "returns", "question": ["What is your return policy?", "Can I return an item?"],
     "answer": "Unused items can be returned within 30 days for a full refund.",
     "question_zh": "退货政策是什么？", "answer_zh": "未使用的商品30天内可以全额退款退货。"},
    {"id": "shipping", "question": "How long does shipping take?", "answer": "Standard shipping takes 3 to 5 days.",
     "question_zh": "发货要多久？", "answer_zh": "标准配送需要3到5天。"},
]
