"""Reading one message: the items it names or points at, the fact it asks about, the constraints it sets or lifts,
and whether it edits the previous request. Exact rules only; the intent itself is
:mod:`fathom.assistant.intents`' job (with :func:`rule_intent` where a rule is exact).

- **Item mentions** (:class:`TitleIndex`): a catalogue title (or its short form: ``The Godfather`` for
  ``Godfather, The``, the part before a colon or a bracket) as whole words in the message; a one-word title only
  when written with a capital (``Heat``, not ``heat``). Chinese titles match as substrings.
- **References**: ordinals (``the second one``, ``#2``, ``第二个``, ``the last one``) into the results last shown,
  pronouns (``it``, ``that one``, ``它``, ``那个``) to the item last talked about, ``both`` / ``them`` /
  ``the first two`` to the first two shown.
- **Fact questions** (:data:`FACT_CUES`): which attribute a question asks for (director, cast, year, genre,
  brand, category, price, plot), and compatibility questions (``does it work with the Arrow T-50?``).
- **Constraints**: those :func:`~fathom.retrieval.query_understanding.understand_query` reads (price, year,
  colour, category, brand, people), and exclusions (``not by Stanley``, ``不要Stanley的``).
- **Edits** of the previous request: ``cheaper`` / ``newer`` / ``older`` and a message that only adds
  constraints (``in red``, ``what about dramas``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fathom.assistant.intents import Language
from fathom.retrieval.query_understanding import CatalogueFields, QueryUnderstandingConfig, understand_query

# attribute -> the catalogue field names it may have, first present wins
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "directors": ("directors", "director"), "cast": ("cast", "actors", "stars"),
    "year": ("year", "release_year"), "genres": ("genres", "genre"),
    "brand": ("brand", "manufacturer", "maker", "studio", "directors"),  # "who made X?" of a film: its director
    "categories": ("categories", "category", "type", "genres", "genre"), "price": ("price",),
    "colour": ("colour", "color"), "description": ("description",),
}
# attribute -> cues in questions (English lower case, Chinese as written); an attribute the catalogue lacks (the
# budget of a film) is asked about all the same, and answered "I don't know"
FACT_CUES: dict[str, tuple[str, ...]] = {
    "directors": ("who directed", "director", "directed", "direct it", "filmmaker", "导演", "执导"),
    "cast": ("who stars", "who's in", "who is in", "starring", "cast", "actor", "actress", "who acted", "who plays",
             "acting in", "主演", "演员", "谁演", "出演", "都有谁演"),
    "year": ("what year", "which year", "when was", "when did", "come out", "came out", "released", "how old",
             "year of", "哪一年", "哪年", "上映", "年份", "什么时候出", "发行"),
    "genres": ("genre", "what kind of movie", "what kind of film", "what type of movie", "type of film",
               "is it a comedy", "类型", "是喜剧吗", "哪一类电影", "哪类电影"),
    "brand": ("brand", "who makes", "who made", "manufacturer", "made by", "品牌", "牌子", "厂家", "生产"),
    "categories": ("category", "what kind of product", "what type of product", "类别", "分类", "哪一类"),
    "price": ("how much", "price", "cost", "多少钱", "价格", "价钱"),
    "budget": ("budget", "预算"),
    "music": ("music", "composer", "composed", "soundtrack", "配乐", "作曲"),
    "runtime": ("how long is", "runtime", "running time", "片长", "多长时间"),
    "awards": ("oscar", "award", "奥斯卡", "获奖", "得奖"),
    "rating": ("rating", "imdb", "rated", "评分"),
    "box office": ("box office", "gross", "票房"),
    "description": ("what is it about", "what's it about", "about", "plot", "describe", "description", "tell me",
                    "specs", "讲什么", "讲的是", "介绍", "描述", "剧情", "规格"),
}
COMPAT = re.compile(r"\b(?:work|works|working) with\b|\bcompatible with\b|\bfits?\b|\bfit with\b|\bgo with\b|"
                    r"\bsuitable for\b|\buse it (?:with|on|for)\b|能用于|能配|兼容|适用于|适合|能用在|配得上")
COMPARE = re.compile(r"\bcompare\b|\bcompared\b|\bside by side\b|\bvs\.?\b|\bversus\b|\bdifference\b|\bdiffer\b|"
                     r"\bwhich (?:one )?is "
                     r"(?:better|newer|older|cheaper)\b|\bor the\b.*\?|\bbetter than\b|"
                     r"比较|对比|区别|不同|哪个好|哪个更|还是")
ORDINALS_EN = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
               "fifth": 4, "5th": 4, "sixth": 5, "seventh": 6, "eighth": 7, "ninth": 8, "tenth": 9, "last": -1,
               "top": 0}
ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
ORDINAL_EN = re.compile(r"\b(?:the )?(" + "|".join(ORDINALS_EN) + r")(?: one| item| result| film| movie| product)?\b"
                        r"|#(\d{1,2})\b|\bnumber (\d{1,2})\b")
ORDINAL_ZH = re.compile(r"第([一二三四五六七八九十\d]{1,2})(?:个|部|款|件|项|条)?|最后(?:一)?(?:个|部|款)")
FIRST_TWO = re.compile(r"\b(?:both|them|the two|these two|those two|the first two|first two)\b|"
                       r"这两个|那两个|它们|两个|前两")
PRONOUN_EN = re.compile(r"\b(?:it|its|this one|that one|this|that|the one)\b")
PRONOUN_ZH = re.compile(r"它|这个|那个|这款|那款|这部|那部|这件|那件")
NEGATION = re.compile(r"\b(?:not|no|except|without|other than|excluding|anything but|but not)\s+(?:by|from|with|"
                      r"made by)?\s*|不要|除了|不是|别要|排除", re.I)
CHEAPER = re.compile(r"\bcheaper\b|\bless expensive\b|\blower price\b|便宜")
PRICIER = re.compile(r"\b(?:more expensive|pricier|higher end|better quality)\b|贵一点|更贵|高端")
NEWER = re.compile(r"\b(?:newer|more recent|later|recent ones)\b|新一点|更新|近一点|新的")
OLDER = re.compile(r"\b(?:older|earlier|classic ones)\b|老一点|更老|早一点|老的")
FOLLOW_UP = re.compile(r"\binstead\b|^and\b|^(?:and |but |ok |okay |now |then )?(?:what about|how about|only|just|in |"
                       r"with |without |"
                       r"not |no |cheaper|newer|older|more|other|another|same|any |also)|"
                       r"^(?:那|要|只要|换成|再|还有|不要|除了|别要)",
                       re.I)
GENERIC_WORDS = {"one", "ones", "some", "any", "please", "show", "me", "find", "the", "a", "an", "i", "want",
                 "need", "something", "anything", "items", "products", "movie", "movies", "film", "films", "what",
                 "about", "how", "only", "just", "in", "with", "and", "but", "more", "other", "another", "same",
                 "also", "ok", "okay", "now", "then", "thanks", "those", "these", "of", "by", "from", "for",
                 "to", "starring", "directed", "made", "released", "look", "looking", "give", "get", "see", "can",
                 "you", "do", "have", "is", "are", "there", "which", "stuff", "things", "recommend", "like", "good",
                 "great", "nice", "got", "mood", "i'm", "im", "instead", "watch", "buy", "would", "maybe",
                 "kind", "sort", "pls", "plz", "all", "everything", "else", "here", "it", "them"}


WORD = re.compile(r"[^\W_\u4e00-\u9fff]+(?:['’][^\W_\u4e00-\u9fff]+)*")  # Latin words; CJK characters apart
# Chinese words -> the English words an English catalogue uses (genres, common products, shop words)
ZH_TERMS: dict[str, str] = {
    "喜剧": "comedy", "剧情片": "drama", "剧情": "drama", "动作": "action", "恐怖": "horror", "科幻": "sci-fi",
    "爱情": "romance", "浪漫": "romance", "惊悚": "thriller", "犯罪": "crime", "动画": "animation",
    "纪录片": "documentary", "战争": "war", "西部": "western", "歌舞": "musical", "音乐": "music", "悬疑": "mystery",
    "冒险": "adventure", "奇幻": "fantasy", "家庭": "family", "儿童": "children", "传记": "biography",
    "历史": "history", "黑色电影": "film-noir", "体育": "sport", "订书机": "stapler", "订书钉": "staples",
    "胶带": "tape", "电工胶带": "electrical tape", "管道胶带": "duct tape", "耗材": "filament", "打印机": "printer",
    "手套": "gloves", "卡尺": "caliper", "万用表": "multimeter", "胶水": "adhesive", "热缩管": "heat shrink tubing",
    "护目镜": "safety glasses", "烙铁": "soldering iron", "电烙铁": "soldering iron", "卷尺": "tape measure",
    "牙刷": "toothbrush", "螺丝": "screws", "螺栓": "bolts", "接头": "fittings", "管件": "pipe fittings",
    "电线": "wire", "电池": "battery", "灯": "light", "口罩": "mask", "标签": "labels", "轴承": "bearings",
    "弹簧": "springs", "磁铁": "magnets", "温度计": "thermometer", "显微镜": "microscope", "烧杯": "beaker",
}
LATIN_CJK = re.compile(r"(?<=[A-Za-z0-9])(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])(?=[A-Za-z0-9])")
ZH_DECADES = {"二十": "20", "三十": "30", "四十": "40", "五十": "50", "六十": "60", "七十": "70", "八十": "80",
              "九十": "90"}


def english_view(text: str) -> str:
    """A Chinese message with the words of :data:`ZH_TERMS` written in English (and ``九十年代`` as
    ``90年代``), so that an English catalogue's values and words match."""
    text = LATIN_CJK.sub(" ", text)  # "Joel Coen的电影": the name and the Chinese apart
    for zh, digits in ZH_DECADES.items():
        text = text.replace(f"{zh}年代", f"{digits}年代")
    for zh in sorted(ZH_TERMS, key=len, reverse=True):
        if zh in text:
            text = text.replace(zh, f" {ZH_TERMS[zh]} ")
    return text


def normalise(text: str) -> str:
    """Lower case, accents off, punctuation to spaces, one space between words."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^\w\u4e00-\u9fff]+", " ", text).split())


def title_variants(title: str) -> set[str]:
    """The forms a person types for a title: as is, ``The X`` for ``X, The``, without a bracketed part, the part
    before a colon or a dash."""
    forms = {title}
    base = re.sub(r"\s*[(\[].*?[)\]]\s*", " ", title).strip()
    forms.add(base)
    m = re.match(r"^(.*), (The|A|An|Il|La|Le|Les|Das|Der|Die|El)$", base)
    if m:
        forms.add(f"{m.group(2)} {m.group(1)}")
        forms.add(m.group(1))
    for sep in (":", " - "):
        if sep in base:
            head = base.split(sep)[0].strip()
            if len(head.split()) >= 2:
                forms.add(head)
    return {f for f in (normalise(x) for x in forms) if f}


@dataclass
class Mention:
    start: int
    end: int
    item_id: str


class TitleIndex:
    """Catalogue titles by their normalised forms, for finding item mentions in a message."""

    MAX_WORDS = 10

    def __init__(self, titles: Mapping[str, str], popularity: Mapping[str, float] | None = None) -> None:
        self.by_form: dict[str, str] = {}
        order = sorted(titles, key=lambda i: -(popularity or {}).get(i, 0.0))  # the popular item wins a shared form
        for item_id in order:
            for form in title_variants(titles[item_id]):
                if len(form) >= 2 and not form.isdigit():
                    self.by_form.setdefault(form, item_id)
        self.chinese = {f: i for f, i in self.by_form.items() if re.search(r"[\u4e00-\u9fff]", f)}

    def find(self, message: str) -> list[Mention]:
        """Non-overlapping mentions, longest first, in message order."""
        words = [(m.start(), m.end()) for m in re.finditer(WORD, message)]
        normal = [normalise(message[s:e]) for s, e in words]
        taken = [False] * len(words)
        found: list[Mention] = []
        for n in range(min(self.MAX_WORDS, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                if any(taken[i:i + n]):
                    continue
                form = " ".join(w for w in normal[i:i + n] if w)
                item = self.by_form.get(form)
                if item is None:
                    continue
                start, end = words[i][0], words[i + n - 1][1]
                if n == 1 and not message[start].isupper():
                    continue  # "heat" is a word; "Heat" is the film
                taken[i:i + n] = [True] * n
                found.append(Mention(start, end, item))
        for form, item in self.chinese.items():
            pos = message.find(form)
            if pos >= 0 and not any(m.start <= pos < m.end for m in found):
                found.append(Mention(pos, pos + len(form), item))
        return sorted(found, key=lambda m: m.start)


@dataclass
class Reading:
    """What one message says, before the intent is decided."""

    language: Language
    text: str  # the message
    delexicalised: str  # item mentions replaced by X, Y
    mentioned: list[str] = field(default_factory=list)  # item ids named in the message, in order
    pointed: list[str] = field(default_factory=list)  # item ids it points at (ordinals, pronouns) in the results
    attribute: str | None = None  # the attribute a fact question asks for
    compatible_with: str | None = None  # what a compatibility question names
    compare_cue: bool = False
    equals: dict[str, list[str]] = field(default_factory=dict)
    excludes: dict[str, list[str]] = field(default_factory=dict)
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    query: str = ""  # the words left for a search
    edits: list[str] = field(default_factory=list)  # cheaper, pricier, newer, older
    follow_up: bool = False  # reads as an edit of the previous request

    pointed_first: bool = False  # the pointer ("it") comes before the first named item

    @property
    def items(self) -> list[str]:
        """The items named and pointed at, in the order the message gives them."""
        ordered = self.pointed + self.mentioned if self.pointed_first else self.mentioned + self.pointed
        return list(dict.fromkeys(ordered))


def _ordinals(text: str, lower: str, language: Language) -> list[int]:
    found: list[tuple[int, int]] = []
    if language == "zh":
        for m in ORDINAL_ZH.finditer(text):
            if m.group(0).startswith("最后"):
                found.append((m.start(), -1))
            else:
                raw = m.group(1)
                n = int(raw) if raw.isdigit() else ZH_DIGITS.get(raw[-1], 0) + (10 if len(raw) == 2 else 0)
                if n >= 1:
                    found.append((m.start(), n - 1))
    for m in ORDINAL_EN.finditer(lower):
        word, hash_n, number = m.groups()
        if word is not None:
            found.append((m.start(), ORDINALS_EN[word]))
        else:
            found.append((m.start(), int(hash_n or number) - 1))
    return [i for _, i in sorted(found)]


def point(text: str, language: Language, shown: Sequence[str], focus: Sequence[str]) -> list[str]:
    """Items of ``shown`` (the results last shown) or ``focus`` (last talked about) the message points at."""
    lower = text.lower()
    if shown and FIRST_TWO.search(lower if language == "en" else text) and len(shown) >= 2:
        ordinals = _ordinals(text, lower, language)
        if len(ordinals) < 2:
            return list(shown[:2]) if not focus or len(focus) < 2 else list(focus[:2])
    out = []
    for i in _ordinals(text, lower, language):
        if shown and -len(shown) <= i < len(shown):
            out.append(shown[i])
    if out:
        return list(dict.fromkeys(out))
    pronoun = PRONOUN_ZH.search(text) if language == "zh" else PRONOUN_EN.search(lower)
    if pronoun and focus:
        return [focus[0]]
    return []


def fact_attribute(text: str, language: Language) -> str | None:
    lower = text.lower()
    best: tuple[int, str] | None = None
    for attribute, cues in FACT_CUES.items():
        for cue in cues:
            pos = (text if language == "zh" else lower).find(cue)
            if pos >= 0 and (language == "zh" or re.search(rf"\b{re.escape(cue)}", lower)):
                if attribute == "description" and best is not None:
                    continue  # "tell me who directed it": the director
                rank = (0 if attribute != "description" else 1, pos)
                if best is None or rank < (0 if best[1] != "description" else 1, best[0]):
                    best = (pos, attribute)
    return best[1] if best else None


def compatible_with(text: str) -> str | None:
    m = COMPAT.search(text.lower()) or COMPAT.search(text)
    if not m:
        return None
    rest = text[m.end():].strip(" ?？。.!！吗呢")
    rest = re.sub(r"^(?:the|a|an|my)\s+", "", rest, flags=re.I)
    rest = re.sub(r"(?:用吗|使用吗|吗)$", "", rest).strip()
    return rest or None


def constraints(text: str, fields: CatalogueFields, config: QueryUnderstandingConfig) -> tuple[
        dict[str, list[str]], dict[str, list[str]], dict[str, tuple[float | None, float | None]], str]:
    """(equals, excludes, ranges, remaining words) of a message."""
    excludes: dict[str, list[str]] = {}
    for m in list(NEGATION.finditer(text))[::-1]:
        tail = text[m.end():]
        words = tail.split()[:4] if not re.match(r"[\u4e00-\u9fff]", tail) else [tail[:12]]
        for n in range(len(words), 0, -1):
            phrase = " ".join(words[:n])
            read = understand_query(phrase, fields, config)
            values = {c.field: c.values for c in read.understood if c.values}
            if values:
                for name, vals in values.items():
                    excludes.setdefault(name, []).extend(v for v in vals if v not in excludes.get(name, []))
                cut = tail.find(words[n - 1]) + len(words[n - 1]) if words else 0
                text = text[:m.start()] + " " + tail[cut:]
                break
    read = understand_query(text, fields, config)
    equals = {k: list(v) for k, v in read.filter.equals.items()}
    for boost in read.boosts:
        for k, v in boost.equals.items():
            equals.setdefault(k, []).extend(v)
    ranges = dict(read.filter.ranges)
    return equals, excludes, ranges, read.text


ZH_FILLER = ("想看看", "想看", "想买点", "买点", "想买", "想要", "找一下", "看一下", "一下", "有没有",
             "给我看看", "给我找", "帮我找", "我想找", "我想要", "我要买", "我需要", "我要", "找一个",
             "找一部",
             "找个", "来点", "一些", "几个", "几部", "一个", "一部", "一款", "看看", "搜索", "推荐", "列出", "列几部",
             "你们卖", "你们", "哪里有", "能", "的", "吗", "呢", "吧", "找", "买", "要", "有", "再", "多", "给我", "我",
             "电影", "片", "以前", "以后", "以下", "以内", "以上", "年代", "年")


def query_words(text: str) -> str:
    """The words of a search left after generic ones (``show me some``, ``给我找``)."""
    if re.search(r"[\u4e00-\u9fff]", text):
        for filler in ZH_FILLER:
            text = text.replace(filler, " ")
    words = [w for w in re.split(r"\s+", text) if w and w.lower().strip(".,;:!?？。，") not in GENERIC_WORDS]
    return " ".join(words).strip(" .,;:!?？。，")


def understanding_config(fields: CatalogueFields) -> QueryUnderstandingConfig:
    """Query understanding with the people and brand attributes matched like categories."""
    base = QueryUnderstandingConfig()
    extra = [n for names in (FIELD_ALIASES["brand"], FIELD_ALIASES["directors"], FIELD_ALIASES["cast"])
             for n in names if n in fields.categorical]
    return base.replace(category_fields=[*base.category_fields, *extra])


def field_for(attribute: str, available: Sequence[str]) -> str | None:
    """The catalogue field holding ``attribute`` (its aliases, then the attribute's own name)."""
    for name in (*FIELD_ALIASES.get(attribute, ()), attribute):
        if name in available:
            return name
    return None


def read_message(text: str, titles: TitleIndex, fields: CatalogueFields, shown: Sequence[str],
                 focus: Sequence[str], language: Language) -> Reading:
    """Everything :mod:`fathom.assistant.understanding` reads in ``text``."""
    mentions = titles.find(text)
    delex, last = [], 0
    for n, m in enumerate(mentions):
        delex.append(text[last:m.start])
        delex.append("X" if n == 0 else "Y")
        last = m.end
    delex.append(text[last:])
    delexicalised = "".join(delex)
    without_titles = "".join(" " * (m.end - m.start) if any(m.start <= i < m.end for m in mentions) else ch
                             for i, ch in enumerate(text)) if mentions else text
    reading = Reading(language=language, text=text, delexicalised=delexicalised,
                      mentioned=list(dict.fromkeys(m.item_id for m in mentions)),
                      pointed=point(text, language, shown, focus))
    if reading.pointed and mentions:
        lower = text.lower()
        pointer = (PRONOUN_ZH.search(text) or ORDINAL_ZH.search(text)) if language == "zh" else (
            PRONOUN_EN.search(lower) or ORDINAL_EN.search(lower))
        reading.pointed_first = pointer is not None and pointer.start() < mentions[0].start
    reading.compatible_with = compatible_with(without_titles)
    reading.attribute = "compatibility" if reading.compatible_with else fact_attribute(without_titles, language)
    reading.compare_cue = bool(COMPARE.search(text.lower() if language == "en" else text))
    config = understanding_config(fields)
    blank = lambda m: " " * len(m.group(0))  # noqa: E731 - same length: _restore_case aligns the two
    cleaned = ORDINAL_EN.sub(blank, without_titles.lower()) if language == "en" else ORDINAL_ZH.sub(blank,
                                                                                                  without_titles)
    reading.equals, reading.excludes, reading.ranges, rest = constraints(
        english_view(cleaned) if language == "zh" else _restore_case(without_titles, cleaned), fields, config)
    lower = text.lower()
    for name, pattern in (("cheaper", CHEAPER), ("pricier", PRICIER), ("newer", NEWER), ("older", OLDER)):
        if pattern.search(lower if language == "en" else text):
            reading.edits.append(name)
            rest = pattern.sub(" ", rest.lower() if language == "en" else rest)
    reading.query = query_words(rest)
    short = len(text.split()) <= 2 if language == "en" else len(text) <= 6
    reading.follow_up = bool(FOLLOW_UP.search(text.strip()) or reading.edits or reading.excludes) or (
        short and bool(reading.equals or reading.ranges) and not reading.query)
    return reading


def _restore_case(original: str, cleaned_lower: str) -> str:
    """``original`` with the spans ``cleaned_lower`` blanked (ordinals) blanked too, case kept."""
    if len(original) != len(cleaned_lower):
        return original
    return "".join(" " if c == " " and o != " " else o for o, c in zip(original, cleaned_lower, strict=True))
