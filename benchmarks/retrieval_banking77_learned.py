"""Can learning from the alternates beat the ranking rule on banking77? Two tries, both measured, neither shipped.

Same split and FAQ as benchmarks/retrieval_banking77.py (k=10 alternates per intent, DEV for choosing,
TEST reported). `--heads`: a logistic-regression classifier per FAQ, trained on the alternates' vectors
(MiniLM, e5, or character n-gram TF-IDF), alone and added to the ranking rule's score. `--finetune N`:
N steps of contrastive fine-tuning of MiniLM on the alternates (two phrasings of 32 different entries per
step, in-batch negatives, lr 2e-5), then the ranking rule on the tuned vectors. Results: benchmarks/retrieval.md.

    .venv/bin/python benchmarks/retrieval_banking77_learned.py --heads
    .venv/bin/python benchmarks/retrieval_banking77_learned.py --finetune 200    # ~8 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_banking77 import Faq, embed_cached, evaluate, load_split, scenario  # noqa: E402

from retrieval.config import RetrievalConfig  # noqa: E402
from retrieval.hybrid import hybrid_search  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "findesk-bench-cache"


def rule_scores(faq: Faq, split, queries: np.ndarray, qvecs: np.ndarray, config: RetrievalConfig) -> np.ndarray:
    """[queries, intents] fused score of the default ranking rule (-1 where an entry was not retrieved)."""
    scores = np.full((len(queries), len(split.intents)), -1.0)
    for row, qi in enumerate(queries.tolist()):
        ranked = hybrid_search(
            faq.dense, faq.lexical, split.texts[qi], qvecs[qi], config.fusion_options(),
            dense_candidates=config.dense_candidates, lexical_candidates=config.lexical_candidates,
        )  # fmt: skip
        for entry in ranked:
            scores[row, int(entry.entry_id)] = entry.score
    return scores


def heads(split, config: RetrievalConfig) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    names = [i.replace("_", " ") for i in split.intents]
    alternates, dev = scenario(split, 10)
    train = np.concatenate([alternates[i] for i in range(len(names))])
    y = np.concatenate([split.labels[train], np.arange(len(names))])  # the intent name is a phrasing too
    vectors = {
        name: {
            "q": embed_cached(name, split.texts, "query", CACHE),
            "p": embed_cached(name, split.texts, "passage", CACHE),
            "n": embed_cached(name, names, "passage", CACHE),
        }
        for name in ("all-MiniLM-L6-v2", "multilingual-e5-small")
    }
    minilm = vectors["all-MiniLM-L6-v2"]
    faq = Faq(split, alternates, {"names": minilm["n"], "passages": minilm["p"]}, config)
    out: dict = {}
    for part, queries in (("dev", dev), ("test", split.test)):
        truth = split.labels[queries]
        rule = rule_scores(faq, split, queries, minilm["q"], config)
        row = {"rule": float(np.mean(rule.argmax(1) == truth))}
        log_probs = {}
        for name, v in vectors.items():
            model = LogisticRegression(C=100, max_iter=2000).fit(np.vstack([v["p"][train], v["n"]]), y)
            log_probs[f"LR {name}"] = model.predict_log_proba(v["q"][queries])
        tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        features = tfidf.fit_transform([split.texts[i] for i in train] + names)
        model = LogisticRegression(C=100, max_iter=3000).fit(features, y)
        log_probs["LR tfidf"] = model.predict_log_proba(tfidf.transform([split.texts[i] for i in queries]))
        for name, lp in log_probs.items():
            row[name] = float(np.mean(lp.argmax(1) == truth))
            for weight in (0.02, 0.1):
                row[f"rule + {weight} x {name}"] = float(np.mean((rule + weight * lp).argmax(1) == truth))
        out[part] = {key: round(value, 4) for key, value in row.items()}
    return out


def finetune(split, config: RetrievalConfig, steps: int) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer

    from retrieval.model_pack import MINILM, resolve

    torch.manual_seed(0)
    random.seed(0)
    names = [i.replace("_", " ") for i in split.intents]
    alternates, dev = scenario(split, 10)
    groups = {c: [names[c]] + [split.texts[i] for i in alternates[c]] for c in range(len(names))}
    model = SentenceTransformer(resolve(MINILM).location, device="cpu")
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-5)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps)
    )

    def embed(texts: list[str]) -> torch.Tensor:
        features = model.preprocess(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for _ in range(steps):
        classes = random.sample(range(len(names)), 32)
        first, second = zip(*[random.sample(groups[c], 2) for c in classes], strict=True)
        logits = embed(list(first)) @ embed(list(second)).T * 20.0
        target = torch.arange(len(classes))
        loss = (
            torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)
        ) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        tuned = model.encode(split.texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
        tuned_names = model.encode(names, normalize_embeddings=True, convert_to_numpy=True)
    faq = Faq(split, alternates, {"names": tuned_names, "passages": tuned}, config)
    return {
        part: round(evaluate(faq, split, queries, tuned, config.fusion_options(), config)["hit@1"], 4)
        for part, queries in (("dev", dev), ("test", split.test))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", action="store_true")
    parser.add_argument("--finetune", type=int, default=0, metavar="STEPS")
    args = parser.parse_args()
    split, config = load_split(), RetrievalConfig()
    out: dict = {}
    if args.heads:
        out["heads_hit@1"] = heads(split, config)
    if args.finetune:
        out[f"finetune_{args.finetune}_steps_hit@1"] = finetune(split, config, args.finetune)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
