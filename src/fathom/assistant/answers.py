"""The deterministic answer writer: templates in the user's language over grounded facts only.

Every name and number an answer states comes from what it is given (catalogue records, search or recommendation
results, FAQ entries); what it is not given it says it does not know.
"""

from __future__ import annotations

from collections.abc import Sequence

from fathom.online.records import ItemRecord

YEAR_FIELDS = ("year", "release_year")
LABEL_FIELDS = ("brand", "genres", "genre", "categories", "category")
ATTRIBUTE_NAMES = {
    "en": {"directors": "director", "cast": "cast", "year": "year", "genres": "genre", "brand": "brand",
           "categories": "category", "price": "price", "description": "description", "colour": "colour"},
    "zh": {"directors": "导演", "cast": "主演", "year": "年份", "genres": "类型", "brand": "品牌", "categories": "类别",
           "price": "价格", "description": "介绍", "colour": "颜色"},
}


def fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"


def _bound(x: float) -> tuple[str, bool]:
    """A range end as written, and whether it is strict (a bound moved to the next float inwards)."""
    nearest = round(x, 2)
    return fmt_number(nearest), nearest != x and abs(nearest - x) < 1e-9


def short_label(item: ItemRecord) -> str:
    """``Fargo (1996; Crime, Drama)`` / ``Stanley staples (Stanley; Staples)``: the title with its year and a
    few categorical values."""
    parts = []
    for name in YEAR_FIELDS:
        if name in item.numeric:
            parts.append(fmt_number(item.numeric[name]))
            break
    if "price" in item.numeric:
        parts.append(f"price {fmt_number(item.numeric['price'])}")
    for name in LABEL_FIELDS:
        values = item.categorical.get(name)
        if values:
            values = [values] if isinstance(values, str) else list(values)
            parts.append(", ".join(values[-2:] if name.startswith("categor") else values[:3]))
            break
    return f"{item.title} ({'; '.join(parts)})" if parts else item.title


def numbered(items: Sequence[ItemRecord]) -> str:
    return "\n".join(f"{n}. {short_label(item)}" for n, item in enumerate(items, 1))


def describe_constraints(language: str, query: str, equals: dict, excludes: dict, ranges: dict) -> str:
    """``for "stapler", brand = Stanley, year 1990-1999, not brand = Arrow`` (or the Chinese form)."""
    parts = []
    if query:
        parts.append(f'"{query}"' if language == "en" else f"“{query}”")
    for name, values in equals.items():
        parts.append(f"{name} = {' / '.join(values)}")
    for name, (lo, hi) in ranges.items():
        if lo is not None and hi is not None:
            parts.append(f"{name} {fmt_number(lo)}-{fmt_number(hi)}")
        elif hi is not None:
            text, strict = _bound(hi)
            parts.append(f"{name} {'<' if strict else '≤'} {text}")
        elif lo is not None:
            text, strict = _bound(lo)
            parts.append(f"{name} {'>' if strict else '≥'} {text}")
    for name, values in excludes.items():
        parts.append(f"{'not' if language == 'en' else '不要'} {name} = {' / '.join(values)}")
    return ", ".join(parts)


def found(language: str, items: Sequence[ItemRecord], what: str) -> str:
    if not items:
        if language == "zh":
            return f"没有找到符合{what}的商品。" if what else "没有找到。"
        return f"I found nothing matching {what}." if what else "I found nothing."
    head = (f"Here {'is' if len(items) == 1 else 'are'} {len(items)} for {what}:" if what else
            f"Here {'is' if len(items) == 1 else 'are'} {len(items)}:") if language == "en" else (
        f"为你找到{len(items)}个（{what}）：" if what else f"为你找到{len(items)}个：")
    return head + "\n" + numbered(items)


def recommended(language: str, items: Sequence[ItemRecord], reasons: Sequence[str], personal: bool) -> str:
    if not items:
        return ("I have nothing to recommend with those constraints." if language == "en" else
                "在这些条件下没有可推荐的。")
    if language == "en":
        head = "Picked for you from what you liked:" if personal else "Popular picks:"
        lines = [f"{n}. {short_label(i)} — {r}" if r else f"{n}. {short_label(i)}"
                 for n, (i, r) in enumerate(zip(items, reasons, strict=True), 1)]
    else:
        head = "根据你喜欢的内容为你挑选：" if personal else "热门推荐："
        lines = [f"{n}. {short_label(i)}" for n, i in enumerate(items, 1)]
    return head + "\n" + "\n".join(lines)


def similar_to(language: str, source: ItemRecord, items: Sequence[ItemRecord], what: str) -> str:
    if not items:
        return (f"I found nothing like {source.title}{' with ' + what if what else ''}." if language == "en" else
                f"没有找到类似《{source.title}》的{'（' + what + '）' if what else ''}。")
    head = (f"Like {source.title}{' (' + what + ')' if what else ''}:" if language == "en" else
            f"类似《{source.title}》的{'（' + what + '）' if what else ''}：")
    return head + "\n" + numbered(items)


def fact(language: str, item: ItemRecord, attribute: str, values: Sequence[str]) -> str:
    joined = ", ".join(values) if language == "en" else "、".join(values)
    title = item.title
    if language == "zh":
        if attribute == "description":
            return f"《{title}》：{values[0]}"
        return f"《{title}》的{ATTRIBUTE_NAMES['zh'].get(attribute, attribute)}是{joined}。"
    if attribute == "directors":
        return f"{title} was directed by {joined}."
    if attribute == "cast":
        return f"{title} stars {joined}."
    if attribute == "year":
        return f"{title} is from {joined}."
    if attribute == "description":
        return f"{title}: {values[0]}"
    return f"The {ATTRIBUTE_NAMES['en'].get(attribute, attribute)} of {title} is {joined}."


def unknown_fact(language: str, item: ItemRecord, attribute: str, known: Sequence[str]) -> str:
    name = ATTRIBUTE_NAMES[language].get(attribute, attribute)
    if language == "zh":
        return (f"我不知道《{item.title}》的{name}：目录里没有这一项。" +
                (f"我知道的有：{'、'.join(ATTRIBUTE_NAMES['zh'].get(k, k) for k in known)}。" if known else ""))
    return (f"I don't know the {name} of {item.title}: the catalogue does not list it." +
            (f" What it lists: {', '.join(ATTRIBUTE_NAMES['en'].get(k, k) for k in known)}." if known else ""))


def compatibility(language: str, item: ItemRecord, target: str, quote: str | None) -> str:
    if quote is not None:
        return (f'Yes: the description of {item.title} says "{quote}".' if language == "en" else
                f"可以：《{item.title}》的介绍写着“{quote}”。")
    return (f"I don't know: the description of {item.title} does not mention {target}." if language == "en" else
            f"我不知道：《{item.title}》的介绍没有提到{target}。")


def comparison(language: str, a: ItemRecord, b: ItemRecord, rows: Sequence[tuple[str, str, str]],
               shared: str | None) -> str:
    if language == "en":
        lines = [f"{a.title} vs {b.title}:"] + [f"- {name}: {x} | {y}" for name, x, y in rows]
        if shared:
            lines.append(f"In common: {shared.removeprefix('both: ')}.")
    else:
        lines = [f"《{a.title}》和《{b.title}》对比："] + [
            f"- {ATTRIBUTE_NAMES['zh'].get(name, name)}：{x} | {y}" for name, x, y in rows]
        if shared:
            lines.append(f"共同点：{shared.removeprefix('both: ')}。")
    return "\n".join(lines)


def which_item(language: str) -> str:
    return ("Which item do you mean? Name it, or pick one of the results by its number." if language == "en" else
            "你指的是哪一个？请说出名字，或者用序号选择结果中的一个。")


def faq_unknown(language: str, nearest: str | None) -> str:
    if language == "zh":
        return "这个问题我不知道答案。" + (f"我能回答的最接近的问题是：“{nearest}”" if nearest else "")
    return "I don't know the answer to that." + (f' The closest question I can answer is: "{nearest}"' if nearest
                                                  else "")


SMALLTALK = {
    "en": {"hello": "Hello! I can find products, recommend items, answer questions about them and about the shop's "
                    "policies.",
           "thanks": "You're welcome.", "bye": "Goodbye!",
           "about": "I am the shop's assistant: I search the catalogue, recommend, compare items and answer "
                    "questions from the catalogue and the shop's FAQ."},
    "zh": {"hello": "你好！我可以帮你找商品、推荐、回答关于商品和店铺政策的问题。", "thanks": "不客气。",
           "bye": "再见！", "about": "我是店铺助手：可以搜索目录、推荐、比较商品，并根据目录和常见问题回答问题。"},
}
OUT_OF_SCOPE = {
    "en": "I can only help with this catalogue: finding items, recommendations, facts about items, comparisons "
          "and the shop's policies.",
    "zh": "我只能帮你处理与本店目录有关的事：找商品、推荐、商品信息、比较和店铺政策。",
}


def smalltalk(language: str, message: str) -> str:
    lower = message.lower()
    table = SMALLTALK[language]
    if any(w in lower for w in ("thank", "谢")):
        return table["thanks"]
    if any(w in lower for w in ("bye", "see you", "再见", "拜拜", "回头见")):
        return table["bye"]
    if any(w in lower for w in ("who are you", "what can you do", "your name", "你是谁", "你能做什么", "名字")):
        return table["about"]
    return table["hello"]
