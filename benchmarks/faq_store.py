"""FAQ store speed: parse + import 10,000 entries, re-import, listing, single edits, change-log reads.

Run: .venv/bin/python benchmarks/faq_store.py [--entries 10000]
Entries are built from the real Banking77 queries in ../shared/data (one entry per query, its intent's
other queries as alternates, up to 5) so text lengths are realistic; no models are loaded, so these are
the storage costs only (the search index adds embedding time on top, see the retrieval benchmarks).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.importers import export_jsonl, parse_faq_file  # noqa: E402
from retrieval.store import FaqStore  # noqa: E402
from retrieval.types import FaqEntry  # noqa: E402

BANKING77 = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


def build_entries(n: int) -> list[FaqEntry]:
    with BANKING77.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_intent: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_intent[row["category"]].append(row["text"])
    rng = random.Random(0)
    entries = []
    for i in range(n):
        row = rows[i % len(rows)]
        others = [q for q in by_intent[row["category"]] if q != row["text"]]
        entries.append(
            FaqEntry(
                id=f"q{i:05d}",
                question=row["text"],
                alternates=tuple(rng.sample(others, min(5, len(others)))),
                answer=f"About {row['category'].replace('_', ' ')}: open the app, choose Help, then follow the steps.",
                category=row["category"],
            )
        )
    return entries


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args()
    if not BANKING77.exists():
        sys.exit(f"needs {BANKING77} (../shared/data beside the checkout)")
    entries = build_entries(args.entries)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "faq.jsonl"
        export_s, _ = timed(export_jsonl, entries, source)
        parse_s, parsed = timed(parse_faq_file, source, max_bytes=50_000_000, max_row_chars=20_000)
        with FaqStore(Path(tmp) / "findesk.sqlite3") as store:
            import_s, report = timed(store.upsert_many, parsed, actor="bench")
            reimport_s, same = timed(store.upsert_many, parsed, actor="bench")
            edited = [FaqEntry(**{**e.__dict__, "answer": e.answer + " Updated."}) for e in parsed]
            update_s, changed = timed(store.upsert_many, edited, actor="bench")
            list_s, listed = timed(store.list)
            search_s, found = timed(store.list, text="card")
            edits = []
            for i in range(50):
                seconds, _ = timed(store.update, f"q{i:05d}", actor="bench", answer=f"Edit {i}.")
                edits.append(seconds * 1e3)
            since_s, (_, ids) = timed(store.changes_since, store.version - 50)
        size_mb = source.stat().st_size / 1e6
    print(f"entries: {len(entries)} ({size_mb:.1f} MB JSONL, {sum(len(e.phrasings) for e in entries)} phrasings)")
    print(f"export_jsonl:            {export_s * 1e3:8.0f} ms")
    print(f"parse_faq_file:          {parse_s * 1e3:8.0f} ms")
    print(f"upsert_many (fresh):     {import_s * 1e3:8.0f} ms  added={report.added}")
    print(f"upsert_many (unchanged): {reimport_s * 1e3:8.0f} ms  unchanged={same.unchanged}")
    print(f"upsert_many (all edited):{update_s * 1e3:8.0f} ms  updated={changed.updated}")
    print(f"list() all:              {list_s * 1e3:8.0f} ms  ({len(listed)} entries)")
    print(f"list(text='card'):       {search_s * 1e3:8.0f} ms  ({len(found)} entries)")
    print(f"single update (fsync):   p50 {statistics.median(edits):.1f} ms, max {max(edits):.1f} ms (n=50)")
    print(f"changes_since(last 50):  {since_s * 1e3:8.1f} ms  ({len(ids)} ids)")


if __name__ == "__main__":
    main()
