"""Build the assistant's evaluation set from the two shops (``assistant_shops.py``) and the FAQ
(``benchmarks/assistant/faq.jsonl``): single turns and multi-turn dialogues in English and Chinese, each turn
labelled with its intent, slots and the correct answer or the relevant items.

    .venv/bin/python benchmarks/assistant_set.py     # writes benchmarks/assistant/eval_set.jsonl

Labels are derived from the catalogue records and the FAQ, never from the assistant: a fact's answer is the
record's field; a product request's relevant items are those whose fields satisfy the request's constraints; a
turn that refers to a result (``the second one``) is labelled by position and resolved against what the
assistant showed. The wordings are written apart from the intent classifier's training phrases
(``fathom.assistant.phrases``), several per intent, and a check below refuses any that equals one of them.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from assistant_shops import SOURCES, items  # noqa: E402

from fathom.assistant import phrases  # noqa: E402
from fathom.assistant.understanding import normalise  # noqa: E402
from fathom.benchmarks.text_data import text_data_dir  # noqa: E402

OUT = HERE / "assistant" / "eval_set.jsonl"
PLURAL = {"Comedy": "comedies", "Drama": "dramas", "Thriller": "thrillers", "Horror": "horror films",
          "Western": "westerns", "Sci-Fi": "sci-fi movies", "Romance": "romance films", "War": "war films",
          "Crime": "crime films", "Documentary": "documentaries", "Musical": "musicals", "Mystery": "mysteries",
          "Adventure": "adventure films", "Action": "action movies", "Fantasy": "fantasy films"}
ZH_GENRE = {"Comedy": "喜剧", "Drama": "剧情片", "Thriller": "惊悚片", "Horror": "恐怖片", "Western": "西部片",
            "Sci-Fi": "科幻片", "Romance": "爱情片", "War": "战争片", "Crime": "犯罪片", "Documentary": "纪录片",
            "Mystery": "悬疑片", "Adventure": "冒险片", "Action": "动作片", "Fantasy": "奇幻片"}
ZH_DECADE = {1950: "五十年代", 1960: "六十年代", 1970: "七十年代", 1980: "八十年代", 1990: "九十年代"}
LEAVES = {  # category leaf -> (English words a shopper types, Chinese name)
    "Duct Tape": ("duct tape", "管道胶带"), "Heat-shrink Tubing": ("heat shrink tubing", "热缩管"),
    "Pipe Fittings": ("pipe fittings", "管件"), "3D Printers": ("3D printers", "3D打印机"),
    "Cyanoacrylate Adhesives": ("cyanoacrylate adhesives", "瞬间胶"),
    "Industrial Lubricants": ("industrial lubricants", "工业润滑剂"), "Toothbrushes": ("toothbrushes", "牙刷"),
    "Electrical Tape": ("electrical tape", "电工胶带"), "Butt Terminals": ("butt terminals", "对接端子"),
    "Digital Calipers": ("digital calipers", "数显卡尺"), "Bench Vises": ("bench vises", "台钳"),
    "Exam Gloves": ("exam gloves", "检查手套"), "pH Meters": ("pH meters", "pH计"), "Beakers": ("beakers", "烧杯"),
    "Wood Screws": ("wood screws", "木螺丝"), "Staples": ("staples", "订书钉"),
    "Rare Earth Magnets": ("rare earth magnets", "稀土磁铁"), "Brad Nails": ("brad nails", "直钉"),
    "LED Lamps": ("LED lamps", "LED灯"), "Dropping Bottles": ("dropping bottles", "滴瓶"),
}

EN = {
    "directors": ["Who directed {t}?", "who was the director of {t}", "{t} - who's the director?",
                  "do you know who directed {t}", "which filmmaker directed {t}?", "tell me the director of {t} please",
                  "I forgot who directed {t}", "{t}: director?"],
    "cast": ["Who stars in {t}?", "who's in the cast of {t}", "which actors are in {t}", "who plays in {t}?",
             "name the actors of {t}", "{t} cast please", "who acted in {t}?"],
    "year": ["What year did {t} come out?", "when was {t} released?", "{t} is from which year?",
             "release year of {t}?", "in what year was {t} released?", "how old is {t}?"],
    "genres": ["What genre is {t}?", "what kind of movie is {t}?", "{t} - what type of film?",
               "which genres does {t} belong to?", "what genre would you call {t}?"],
    "description": ["What is {t} about?", "tell me the plot of {t}", "what's {t} about?",
                    "describe {t} for me", "give me the plot of {t}"],
    "unknown": ["What was the budget of {t}?", "who composed the music for {t}?", "how long is {t}, runtime-wise?",
                "did {t} win an Oscar?", "what's the IMDb rating of {t}?", "how much does {t} cost?",
                "what was the box office of {t}?"],
    "find_genre_decade": ["{g} from the {d}s", "any good {g} from the {d}s?", "show me {g} made in the {d}s",
                          "I'm in the mood for {g} from the {d}s", "{d}s {g} please", "got any {g} from the {d}s?"],
    "find_before": ["{g} released before {y}", "{g} older than {y}", "show me {g} from before {y}"],
    "find_after": ["{g} released after {y}", "{g} newer than {y}", "any {g} since {y}?"],
    "find_director": ["films by {p}", "movies directed by {p}", "what do you have from {p}?", "anything by {p}?",
                      "show me {p} movies", "I'd like to watch something by {p}"],
    "similar": ["anything like {t}?", "I enjoyed {t}, what else would I enjoy like it?", "films similar to {t}",
                "more movies like {t} please", "something in the spirit of {t}", "recommend films like {t}"],
    "compare": ["compare {t} and {u}", "{t} or {u}: which one?", "how does {t} compare with {u}?",
                "what's the difference between {t} and {u}?", "{t} vs {u}"],
    "recommend": ["what should I watch next?", "recommend me a movie", "any picks for tonight?",
                  "suggest something I'd like", "what would you recommend for me?", "got a recommendation for me?",
                  "pick a film for me"],
    "find_leaf": ["I need {l}", "do you sell {l}?", "show me some {l}", "looking for {l}", "{l} please",
                  "can you find me {l}?", "I want to buy {l}"],
    "find_leaf_brand": ["{b} {l}", "{l} from {b}", "do you have {l} made by {b}?", "show me {b} {l}"],
    "find_leaf_not_brand": ["{l} but not from {b}", "{l}, no {b} please", "{l} except {b}"],
    "faq": {"returns": ["how many days do I have to send something back?", "what's your policy on returns?"],
            "shipping-time": ["how quickly will my parcel get here?", "how many days does delivery take?"],
            "shipping-cost": ["do I have to pay for delivery?", "what does shipping cost?"],
            "international": ["can you send my order to Canada?", "do you deliver outside the country?"],
            "cancel-order": ["I want to cancel the order I just placed", "is it possible to cancel a purchase?"],
            "payment": ["which cards can I pay with?", "do you take PayPal?"],
            "warranty": ["what warranty do the products have?", "is there a guarantee on defects?"],
            "tracking": ["where can I see my tracking number?", "how do I follow my delivery?"],
            "contact": ["how can I reach a person in support?", "what's the customer service email?"],
            "address-change": ["I moved, can I update where my order goes?", "how do I change the shipping address?"],
            "damaged": ["my package came broken, what now?", "the item I received is damaged"],
            "exchange": ["can I exchange something I bought?", "how do exchanges work?"],
            "gift-cards": ["do you sell gift vouchers?", "can I buy someone a gift card?"],
            "price-match": ["will you match a cheaper price elsewhere?", "do you do price matching?"],
            "privacy": ["what happens to my personal information?", "do you sell my data?"],
            "hours": ["when is your support team available?", "what time does customer service open?"],
            None: ["do you have a loyalty program?", "can I pick up my order in a store?",
                   "do you offer student discounts?", "is there an app for the shop?", "do you buy back used items?"]},
    "smalltalk": ["hey!", "good afternoon", "thank you so much", "thanks, that helps", "hi, how's it going?",
                  "what are you able to help with?", "ok bye", "cheers", "heya", "nice, thanks",
                  "who am I talking to?", "good night", "great job", "morning!", "appreciate it"],
    "out_of_scope": ["will it rain this weekend?", "what's the capital of Australia?", "can you write a haiku?",
                     "tell me something funny", "what's the score of the game?", "translate hello into Spanish",
                     "how do I bake bread?", "book a table for two", "what's 12 squared?", "who is the prime minister?",
                     "help me with my taxes", "what's the population of China?", "play a song",
                     "explain quantum physics", "how far is the moon?"],
}
ZH = {
    "directors": ["{t}是谁导演的？", "{t}的导演是谁", "谁执导了{t}？", "{t}这部电影是哪个导演拍的"],
    "cast": ["{t}里有哪些演员？", "谁主演了{t}", "{t}的主演是谁？", "{t}都有谁演"],
    "year": ["{t}是哪一年上映的？", "{t}哪年出的", "{t}的上映年份是多少", "{t}是哪年的电影"],
    "genres": ["{t}是什么类型的电影？", "{t}属于什么类型", "{t}算哪一类电影"],
    "unknown": ["{t}的预算是多少？", "{t}的配乐是谁做的？", "{t}片长多久？", "{t}得过奥斯卡吗？"],
    "find_genre_decade": ["{d}的{g}", "有没有{d}的{g}", "给我找几部{d}的{g}", "想看{d}的{g}"],
    "find_director": ["{p}导演的电影", "有{p}的电影吗", "{p}拍过哪些片子"],
    "similar": ["有没有类似{t}的电影", "和{t}差不多的片子", "喜欢{t}，还有类似的吗", "像{t}那样的电影"],
    "compare": ["比较一下{t}和{u}", "{t}和{u}有什么区别", "{t}还是{u}？"],
    "recommend": ["推荐部电影吧", "今晚看什么", "有什么适合我的", "给我推荐点好看的"],
    "find_leaf": ["我要买{l}", "有{l}吗", "给我看看{l}", "找一下{l}", "想买点{l}"],
    "faq": {"returns": ["收到货不满意能退吗", "退货怎么办理"], "shipping-time": ["下单后几天能到", "配送需要几天"],
            "shipping-cost": ["要付运费吗", "运费怎么算"], "payment": ["可以用什么付款", "支持信用卡吗"],
            "warranty": ["质保多久", "商品坏了保修吗"], "contact": ["客服怎么联系", "有客服邮箱吗"],
            "cancel-order": ["订单能取消吗", "怎么撤销订单"], "tracking": ["怎么看快递到哪了", "物流信息在哪看"],
            None: ["你们有会员卡吗", "可以到店自提吗", "学生有折扣吗"]},
    "smalltalk": ["你好呀", "谢谢你", "哈喽", "下午好", "多谢帮忙", "你能帮我做什么", "下次见", "好的，谢谢"],
    "out_of_scope": ["周末会下雨吗", "澳大利亚的首都是哪里", "给我写首诗", "说个笑话", "怎么做蛋糕", "帮我订个餐厅",
                     "月亮离地球多远", "今天股市怎么样"],
}


def popular(name: str, n: int) -> list[str]:
    frame = pd.read_csv(text_data_dir() / SOURCES[name] / "interactions.csv")
    return [str(i) for i in frame["item_id"].value_counts().index[:n]]


class Builder:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.movies = {i.item_id: i for i in items("movies")}
        self.products = {i.item_id: i for i in items("products")}
        forms = Counter(normalise(i.title) for i in self.movies.values())
        self.titles = [i for i in popular("movies", 400)
                       if forms[normalise(self.movies[i].title)] == 1 and len(self.movies[i].title.split()) >= 2
                       and "," not in self.movies[i].title and "(" not in self.movies[i].title
                       and all(self.movies[i].categorical.get(k) for k in ("directors", "cast", "genres"))
                       and "year" in self.movies[i].numeric]
        cast = {c for i in self.movies.values() for c in i.categorical.get("cast", [])}
        by_director = Counter(d for i in self.movies.values() for d in i.categorical.get("directors", []))
        self.directors = [d for d, n in by_director.most_common(60) if n >= 4 and d not in cast]
        self.users = popular_users()
        self.records: list[dict] = []
        self.counter = Counter()

    def pick(self, seq):
        return self.rng.choice(seq)

    def add(self, kind: str, shop: str, language: str, turns: list[dict], user: str | None = None) -> None:
        self.counter[kind] += 1
        self.records.append({"id": f"{kind[0]}{len(self.records):04d}", "kind": kind, "shop": shop,
                             "language": language, "user": user, "turns": turns})

    # ---- label helpers -------------------------------------------------------------------------------------
    def matching(self, shop: str, equals: dict, excludes: dict | None = None, ranges: dict | None = None) -> list[str]:
        pool = self.movies if shop == "movies" else self.products
        out = []
        for item_id, item in pool.items():
            if any(not set(v) & set(item.categorical.get(f, [])) for f, v in equals.items()):
                continue
            if any(set(v) & set(item.categorical.get(f, [])) for f, v in (excludes or {}).items()):
                continue
            ok = True
            for f, (lo, hi) in (ranges or {}).items():
                x = item.numeric.get(f)
                if x is None or (lo is not None and x < lo) or (hi is not None and x > hi):
                    ok = False
            if ok:
                out.append(item_id)
        return out

    # ---- single turns --------------------------------------------------------------------------------------
    def fact(self, language: str, attribute: str) -> dict:
        table = EN if language == "en" else ZH
        item = self.movies[self.pick(self.titles)]
        message = self.pick(table[attribute]).format(t=item.title)
        if attribute == "unknown":
            return {"message": message, "intent": "fact", "slots": {"item": item.item_id},
                    "answer": {"type": "unknown"}}
        values = ([str(int(item.numeric["year"]))] if attribute == "year" else
                  [item.description[:60]] if attribute == "description" else list(item.categorical[attribute]))
        return {"message": message, "intent": "fact", "slots": {"item": item.item_id, "attribute": attribute},
                "answer": {"type": "fact", "values": values}}

    def find_movies(self, language: str) -> dict:
        table = EN if language == "en" else ZH
        roll = self.rng.random()
        if roll < 0.5 or language == "zh" and roll < 0.75:
            genre = self.pick(list(ZH_GENRE if language == "zh" else PLURAL))
            decade = self.pick([1950, 1960, 1970, 1980, 1990] if language == "zh" else [1960, 1970, 1980, 1990])
            words = ZH_GENRE[genre] if language == "zh" else PLURAL[genre]
            message = self.pick(table["find_genre_decade"]).format(
                g=words, d=ZH_DECADE[decade] if language == "zh" else str(decade)[2:] if self.rng.random() < .3
                else decade)
            slots = {"equals": {"genres": [genre]}, "ranges": {"year": [decade, decade + 9]}}
        elif language == "en" and roll < 0.75:
            genre = self.pick(list(PLURAL))
            year = self.pick([1960, 1970, 1975, 1980, 1985, 1990, 1994])
            before = self.rng.random() < 0.5
            message = self.pick(table["find_before" if before else "find_after"]).format(g=PLURAL[genre], y=year)
            if "since" in message:
                slots = {"equals": {"genres": [genre]}, "ranges": {"year": [year, None]}}
            else:
                slots = {"equals": {"genres": [genre]}, "ranges": {"year": [None, year] if before else [year, None]}}
                slots["strict"] = True
        else:
            person = self.pick(self.directors)
            message = self.pick(table["find_director"]).format(p=person)
            slots = {"equals": {"directors": [person]}}
        ranges = {}
        for f, (lo, hi) in slots.get("ranges", {}).items():
            if slots.get("strict"):
                lo, hi = (lo + 1 if lo is not None else None), (hi - 1 if hi is not None else None)
            ranges[f] = (lo, hi)
        relevant = self.matching("movies", slots["equals"], None, ranges)
        slots.pop("strict", None)
        return {"message": message, "intent": "find", "slots": slots, "answer": {"type": "items", "relevant": relevant}}

    def find_products(self, language: str) -> dict:
        leaf = self.pick(list(LEAVES))
        words = LEAVES[leaf][0 if language == "en" else 1]
        in_leaf = [self.products[i] for i in self.matching("products", {"categories": [leaf]})]
        brands = [b for b, n in Counter(i.categorical["brand"][0] for i in in_leaf if "brand" in i.categorical
                                        ).most_common() if n >= 2 and len(b) > 2]
        roll = self.rng.random()
        if language == "zh" or roll < 0.55 or not brands:
            message = self.pick((EN if language == "en" else ZH)["find_leaf"]).format(l=words)
            slots: dict = {"equals": {"categories": [leaf]}}
        elif roll < 0.8:
            brand = self.pick(brands)
            message = self.pick(EN["find_leaf_brand"]).format(l=words, b=brand)
            slots = {"equals": {"categories": [leaf], "brand": [brand]}}
        else:
            brand = self.pick(brands)
            message = self.pick(EN["find_leaf_not_brand"]).format(l=words, b=brand)
            slots = {"equals": {"categories": [leaf]}, "excludes": {"brand": [brand]}}
        relevant = self.matching("products", slots["equals"], slots.get("excludes"))
        return {"message": message, "intent": "find", "slots": slots, "answer": {"type": "items", "relevant": relevant}}

    def similar(self, language: str) -> dict:
        item = self.movies[self.pick(self.titles)]
        message = self.pick((EN if language == "en" else ZH)["similar"]).format(t=item.title)
        return {"message": message, "intent": "similar", "slots": {"item": item.item_id},
                "answer": {"type": "similar", "item": item.item_id}}

    def compare(self, language: str) -> dict:
        a, b = self.rng.sample(self.titles, 2)
        message = self.pick((EN if language == "en" else ZH)["compare"]).format(t=self.movies[a].title,
                                                                                u=self.movies[b].title)
        return {"message": message, "intent": "compare", "slots": {"items": [a, b]},
                "answer": {"type": "compare", "items": [a, b]}}

    def faq(self, language: str) -> dict:
        table = (EN if language == "en" else ZH)["faq"]
        entry = self.pick(list(table))
        message = self.pick(table[entry])
        return {"message": message, "intent": "faq", "slots": {"faq": entry} if entry else {},
                "answer": {"type": "faq", "id": entry}}

    def plain(self, language: str, intent: str) -> dict:
        message = self.pick((EN if language == "en" else ZH)[intent])
        return {"message": message, "intent": intent, "slots": {}, "answer": {"type": "none"}}

    def recommend(self, language: str) -> tuple[dict, str]:
        message = self.pick((EN if language == "en" else ZH)["recommend"])
        return {"message": message, "intent": "recommend", "slots": {}, "answer": {"type": "recommend"}}, \
            self.pick(self.users)

    # ---- dialogues -----------------------------------------------------------------------------------------
    def dialogue_movies(self, language: str) -> list[dict]:
        first = self.find_movies(language)
        while "directors" in first["slots"]["equals"] or len(first["answer"]["relevant"]) < 8:
            first = self.find_movies(language)
        equals, ranges = dict(first["slots"]["equals"]), dict(first["slots"].get("ranges", {}))
        other = self.pick([g for g in (ZH_GENRE if language == "zh" else PLURAL) if g not in equals["genres"]])
        if language == "en":
            second_msg = self.pick(["what about {g}?", "how about {g} instead", "and {g}?"]).format(g=PLURAL[other])
        else:
            second_msg = self.pick(["那{g}呢？", "换成{g}", "要{g}"]).format(g=ZH_GENRE[other])
        equals2 = {"genres": [other]}
        second = {"message": second_msg, "intent": "find", "follow_up": True,
                  "slots": {"equals": equals2, "ranges": ranges},
                  "answer": {"type": "items", "relevant": self.matching("movies", equals2, None,
                                                                         {k: tuple(v) for k, v in ranges.items()})}}
        attribute = self.pick(["directors", "year", "cast"])
        n = self.pick([1, 2, 3])
        ordinal = {1: "first", 2: "second", 3: "third"}[n] if language == "en" else {1: "一", 2: "二", 3: "三"}[n]
        if language == "en":
            third_msg = {"directors": f"who directed the {ordinal} one?", "year": f"what year is the {ordinal} one?",
                         "cast": f"who is in the {ordinal} one?"}[attribute]
        else:
            third_msg = {"directors": f"第{ordinal}部是谁导演的", "year": f"第{ordinal}部是哪年的",
                         "cast": f"第{ordinal}部的主演是谁"}[attribute]
        third = {"message": third_msg, "intent": "fact", "slots": {"item": {"ref": n}, "attribute": attribute},
                 "answer": {"type": "ref_fact", "ref": n, "attribute": attribute}}
        fourth_msg = self.pick(["put the first two side by side", "first one or second one, how do they differ?"]
                               if language == "en" else ["比较一下前两部", "第一部和第二部有什么区别"])
        fourth = {"message": fourth_msg, "intent": "compare", "slots": {"items": [{"ref": 1}, {"ref": 2}]},
                  "answer": {"type": "ref_compare", "refs": [1, 2]}}
        return [dict(first, follow_up=False), second, third, fourth]

    def dialogue_film(self, language: str) -> list[dict]:
        item = self.movies[self.pick(self.titles)]
        t = item.title
        if language == "en":
            msgs = [self.pick(EN["directors"]).format(t=t), self.pick(["and who stars in it?", "who is acting in it?"]),
                    self.pick(["something like it but funnier", "more like it please"])]
        else:
            msgs = [self.pick(ZH["directors"]).format(t=t), self.pick(["它的主演是谁", "谁演的它"]),
                    self.pick(["有类似它的吗", "和它差不多的电影"])]
        return [{"message": msgs[0], "intent": "fact", "follow_up": False,
                 "slots": {"item": item.item_id, "attribute": "directors"},
                 "answer": {"type": "fact", "values": list(item.categorical["directors"])}},
                {"message": msgs[1], "intent": "fact", "follow_up": False,
                 "slots": {"item": item.item_id, "attribute": "cast"},
                 "answer": {"type": "fact", "values": list(item.categorical["cast"])}},
                {"message": msgs[2], "intent": "similar", "follow_up": False,
                 "slots": {"item": item.item_id,
                           **({"equals": {"genres": ["Comedy"]}} if "funnier" in msgs[2] else {})},
                 "answer": {"type": "similar", "item": item.item_id}}]

    def dialogue_products(self, language: str) -> list[dict]:
        first = self.find_products(language)
        while "brand" in first["slots"]["equals"] or "excludes" in first["slots"] or \
                len(first["answer"]["relevant"]) < 10:
            first = self.find_products(language)
        leaf = first["slots"]["equals"]["categories"][0]
        brands = Counter(self.products[i].categorical["brand"][0] for i in first["answer"]["relevant"]
                         if "brand" in self.products[i].categorical)
        brand = brands.most_common(1)[0][0]
        msg = self.pick([f"not from {brand}", f"anything except {brand}?", f"without {brand} please"]) \
            if language == "en" else self.pick([f"不要{brand}的", f"除了{brand}以外的"])
        excludes = {"brand": [brand]}
        second = {"message": msg, "intent": "find", "follow_up": True,
                  "slots": {"equals": {"categories": [leaf]}, "excludes": excludes},
                  "answer": {"type": "items", "relevant": self.matching("products", {"categories": [leaf]}, excludes)}}
        n = self.pick([1, 2])
        third_msg = (f"who makes the {'first' if n == 1 else 'second'} one?" if language == "en" else
                     f"第{'一' if n == 1 else '二'}个是什么牌子的")
        third = {"message": third_msg, "intent": "fact", "slots": {"item": {"ref": n}, "attribute": "brand"},
                 "answer": {"type": "ref_fact", "ref": n, "attribute": "brand"}}
        faq = self.faq(language)
        while faq["answer"]["id"] is None:
            faq = self.faq(language)
        return [dict(first, follow_up=False), second, third, dict(faq, follow_up=False)]

    def build(self) -> list[dict]:
        for language, scale in (("en", 1.0), ("zh", 0.35)):
            for attribute, n in (("directors", 30), ("cast", 25), ("year", 25), ("genres", 20), ("description", 10),
                                 ("unknown", 20)):
                if language == "zh" and attribute == "description":
                    continue
                for _ in range(round(n * scale)):
                    self.add("single", "movies", language, [self.fact(language, attribute)])
            for _ in range(round(80 * scale)):
                self.add("single", "movies", language, [self.find_movies(language)])
            for _ in range(round(70 * scale)):
                self.add("single", "products", language, [self.find_products(language)])
            for _ in range(round(30 * scale)):
                self.add("single", "movies", language, [self.similar(language)])
            for _ in range(round(25 * scale)):
                self.add("single", "movies", language, [self.compare(language)])
            for _ in range(round(20 * scale)):
                turn, user = self.recommend(language)
                self.add("single", "movies", language, [turn], user=user)
            for _ in range(round(45 * scale)):
                self.add("single", "products", language, [self.faq(language)])
            for intent in ("smalltalk", "out_of_scope"):
                for _ in range(round(25 * scale)):
                    self.add("single", "products", language, [self.plain(language, intent)])
        for language, n in (("en", 14), ("zh", 6)):
            for _ in range(n):
                self.add("dialogue", "movies", language, self.dialogue_movies(language))
                self.add("dialogue", "movies", language, self.dialogue_film(language))
                self.add("dialogue", "products", language, self.dialogue_products(language))
        return self.records


def popular_users() -> list[str]:
    frame = pd.read_csv(text_data_dir() / SOURCES["movies"] / "interactions.csv")
    return [str(u) for u in frame["user_id"].value_counts().index[:100]]


def check_wordings(records: list[dict]) -> None:
    """No evaluated message, with its item names written X / Y, equals a training phrase."""
    training = {normalise(p) for table in (phrases.EN, phrases.ZH) for lines in table.values() for p in lines}
    clashes = [t["message"] for r in records for t in r["turns"] if normalise(t["message"]) in training]
    if clashes:
        raise SystemExit(f"evaluation wordings equal training phrases: {clashes[:5]}")


def main() -> int:
    records = Builder().build()
    check_wordings(records)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    turns = [(r["language"], r["kind"], t) for r in records for t in r["turns"]]
    single = sum(1 for r in records if r["kind"] == "single")
    dialogues = sum(1 for r in records if r["kind"] == "dialogue")
    by_language = Counter(lang for lang, _, _ in turns)
    by_intent = Counter(t["intent"] for _, _, t in turns)
    print(f"{single} single turns, {dialogues} dialogues, {len(turns)} turns; by language {dict(by_language)}; "
          f"by intent {dict(by_intent)} -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
