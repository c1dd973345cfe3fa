"""Chinese retrieval: is BM25 (jieba) fused with all-MiniLM-L6-v2 enough, or does multilingual-e5 help?

Loads the bundled default FAQ (paired en/zh entries) into three knowledge bases and runs the 35
hand-written Chinese queries in benchmarks/data/retrieval_zh_queries.jsonl (30 answerable, written for
this benchmark in everyday wording, not copied from the FAQ; 5 with no answer) through
`retrieval.evaluation.evaluate_retrieval`, the code behind `findesk eval retrieval`.

    .venv/bin/python benchmarks/retrieval_zh.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import RetrievalConfig  # noqa: E402
from retrieval.evaluation import evaluate_retrieval, load_queries  # noqa: E402
from retrieval.knowledge_base import KnowledgeBase  # noqa: E402

QUERIES = Path(__file__).parent / "data" / "retrieval_zh_queries.jsonl"
SETUPS = {
    "minilm+bm25 (no zh channel)": RetrievalConfig(zh_embedder="", persist_delay_s=0),
    "minilm+bm25, e5 channel for zh (default)": RetrievalConfig(persist_delay_s=0),
    "e5 primary+bm25": RetrievalConfig(embedder="multilingual-e5-small", zh_embedder="", persist_delay_s=0),
}


def main() -> None:
    queries = load_queries(QUERIES)
    results = {}
    for name, config in SETUPS.items():
        with tempfile.TemporaryDirectory() as folder, KnowledgeBase.open(Path(folder), config) as kb:
            kb.ensure_default_faq()
            results[name] = {k: round(v, 4) for k, v in evaluate_retrieval(kb, queries).to_dict().items()}
        print(name, json.dumps(results[name]), flush=True)


if __name__ == "__main__":
    main()
