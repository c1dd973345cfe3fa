"""What customers get from the shipped default FAQ: answer precision and coverage, in English and Chinese.

    .venv/bin/python benchmarks/retrieval_trust.py [--out .cache/trust] [--split dev|test|all | --final] [--per-query]
        [--no-spelling]

English: real banking77 customer messages (../shared/data/banking77/train.csv), each labelled through our
hand-made intent -> default-FAQ entry mapping (benchmarks/data/banking77_faq_map.json; intents the FAQ
does not cover are "not in the FAQ"). 40 messages per intent, seeded, split half DEV (for choosing
settings) and half TEST (reported). Chinese: benchmarks/data/zh_customer_queries.jsonl, questions we
wrote as customers would (234: 146 answerable, 88 the FAQ cannot answer), alternate lines DEV / TEST.

`--final` evaluates only the two final-check sets instead (en_final, zh_final:
benchmarks/data/{en,zh}_final_queries.jsonl, 150 English and 120 Chinese messages written blind). Nobody
chooses settings on them: they are reported once, as an untouched check against fitting to DEV.

The query files are written to --out (never into the package: banking77 text stays out of the repo), so
`findesk eval retrieval OUT/en_test.jsonl --json` measures the same thing.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from retrieval.config import RetrievalConfig
from retrieval.evaluation import EvalQuery, QueryOutcome, evaluate_retrieval, pair_topics
from retrieval.knowledge_base import KnowledgeBase

HERE = Path(__file__).parent
BANKING77 = HERE.parent / ".." / "shared" / "data" / "banking77" / "train.csv"
PER_INTENT = 40


def english_sets(seed: int = 0) -> dict[str, list[EvalQuery]]:
    mapping = json.loads((HERE / "data" / "banking77_faq_map.json").read_text(encoding="utf-8"))["intents"]
    by_intent: dict[str, list[str]] = defaultdict(list)
    with BANKING77.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            by_intent[row["category"]].append(row["text"].strip())
    rng = random.Random(seed)
    sets: dict[str, list[EvalQuery]] = {"dev": [], "test": []}
    for intent in sorted(by_intent):
        label = mapping[intent]
        expected, also_ok = (label[0], tuple(label[1:])) if label else (None, ())
        texts = rng.sample(by_intent[intent], min(PER_INTENT, len(by_intent[intent])))
        for n, text in enumerate(texts):
            sets["dev" if n % 2 == 0 else "test"].append(EvalQuery(text, expected, also_ok))
    return sets


def read_queries(name: str) -> list[EvalQuery]:
    lines = (HERE / "data" / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [EvalQuery(r["query"], r["expected_id"], tuple(r.get("also_ok", ()))) for r in rows]


def chinese_sets() -> dict[str, list[EvalQuery]]:
    queries = read_queries("zh_customer_queries.jsonl")
    return {"dev": queries[0::2], "test": queries[1::2]}


def final_sets() -> dict[str, list[EvalQuery]]:
    """The untouched final-check sets: never split, never used to choose settings."""
    return {f"{lang}_final": read_queries(f"{lang}_final_queries.jsonl") for lang in ("en", "zh")}


def write_sets(out: Path, sets: dict[str, list[EvalQuery]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, queries in sets.items():
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for q in queries:
                row: dict = {"query": q.query, "expected_id": q.expected_id}
                if q.also_ok:
                    row["also_ok"] = list(q.also_ok)
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE.parent / ".cache" / "trust")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--per-query", action="store_true", help="write OUT/<set>.outcomes.jsonl")
    parser.add_argument("--answer-precision", type=float, default=None)
    parser.add_argument("--clarify-precision", type=float, default=None)
    parser.add_argument("--unanswerable-share", type=float, default=None)
    parser.add_argument("--thresholds", action="store_true", help="the old similarity thresholds, no calibration")
    parser.add_argument("--no-spelling", action="store_true", help="leave customers' typos uncorrected (before)")
    parser.add_argument("--zh-fusion", default=None, help="ranking of Chinese queries: linear, z, rrf, dense")
    parser.add_argument("--zh-lexical-weight", type=float, default=None)
    parser.add_argument("--zh-multilingual-weight", type=float, default=None, help="USE channel's weight; 0: off")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the index here between runs")
    parser.add_argument("--final", action="store_true", help="only the final-check sets (ignores --split)")
    args = parser.parse_args()
    if args.final:
        sets = final_sets()
    else:
        sets = {f"en_{k}": v for k, v in english_sets().items()} | {f"zh_{k}": v for k, v in chinese_sets().items()}
    write_sets(args.out, sets)
    overrides = {
        k: v
        for k, v in {
            "answer_precision": args.answer_precision,
            "clarify_precision": args.clarify_precision,
            "unanswerable_share": args.unanswerable_share,
            "zh_fusion": args.zh_fusion,
            "zh_lexical_weight": args.zh_lexical_weight,
            "zh_multilingual_weight": args.zh_multilingual_weight,
            "correct_spelling": False if args.no_spelling else None,
        }.items()
        if v is not None
    }
    config = RetrievalConfig(persist_delay_s=0, calibrate=not args.thresholds, **overrides)
    with tempfile.TemporaryDirectory() as temp:
        kb = KnowledgeBase.open(args.data_dir or Path(temp), config)
        kb.ensure_default_faq()
        if kb.calibrator is not None:
            started = time.perf_counter()
            kb.calibrator.refit()
            print(f"calibration fitted in {time.perf_counter() - started:.1f} s")
            for language, model in kb.calibrator.calibration.languages.items():  # type: ignore[union-attr]
                print(
                    f"  {language}: {model.examples} held-out searches ({model.positives} right at 1), "
                    f"answer cut-off {model.answer_cutoff:.3f}, choices cut-off {model.choices_cutoff:.3f}"
                )
        evaluate_sets(kb, sets, args)
        kb.close()


def evaluate_sets(kb: KnowledgeBase, sets: dict[str, list[EvalQuery]], args: argparse.Namespace) -> None:
    topics = pair_topics([(e.id, e.tags) for e in kb.list_entries()])
    keys = ("hit_at_1", "answer_precision", "answer_coverage", "unanswerable_answered", "clarify_rate")
    keys += ("clarify_contains_right", "no_answer_rate", "latency_p50_ms", "latency_p95_ms")
    print(f"{'set':8} {'n':>5} " + " ".join(f"{k[:14]:>14}" for k in keys))
    for name, queries in sets.items():
        if not args.final and args.split != "all" and not name.endswith(args.split):
            continue
        outcomes: list[QueryOutcome] = []
        report = evaluate_retrieval(kb, queries, topics=topics, per_query=outcomes).to_dict()
        print(f"{name:8} {report['n']:>5} " + " ".join(f"{report[k]:>14.3f}" for k in keys))
        if args.per_query:
            with (args.out / f"{name}.outcomes.jsonl").open("w", encoding="utf-8") as f:
                for item in outcomes:
                    f.write(json.dumps(item.__dict__, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
