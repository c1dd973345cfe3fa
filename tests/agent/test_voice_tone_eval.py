"""`findesk eval tone`: replay order, the AUC, and refusals of bad manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.voice_tone_eval import ToneClip, auc, replay_order
from ui.cli import app

runner = CliRunner()


def test_auc_counts_pairs_and_ties() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5], [0.5]) == 0.5
    assert auc([], [0.1]) is None


def test_each_speaker_is_replayed_alone_in_a_fixed_shuffled_order() -> None:
    clips = [ToneClip(Path(f"{s}-{i}.flac"), s, "en", "calm") for s in ("a", "b") for i in range(10)]
    order = replay_order(clips, seed=3)
    assert set(order) == {"a", "b"} and all(c.speaker == s for s, cs in order.items() for c in cs)
    assert order == replay_order(list(reversed(clips)), seed=3)  # the manifest's line order does not matter
    assert [c.path for c in order["a"]] != sorted(c.path for c in order["a"])
    assert replay_order(clips, seed=4) != order


@pytest.mark.slow
def test_eval_tone_on_the_shared_acted_clips_with_random_phone_gains(shared_data: Path) -> None:
    manifest = shared_data / "voice_tone" / "manifest.jsonl"
    result = runner.invoke(app, ["eval", "tone", str(manifest), "--gain-db", "15", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["clips"]) == 240 and report["gain_db"] == 15 and report["clip_gain_db"] == 3
    assert report["auc_angry_vs_calm"] >= 0.85  # a floor that catches breakage; measured figures: BENCHMARKS
    assert report["auc_angry_vs_calm_first_clip"] >= 0.8
    means = report["mean_agitation"]
    assert means["angry"] > 0.4 > means["neutral"] and means["calm"] < 0.2
    by_speaker: dict[str, list[int]] = {}
    for clip in report["clips"]:
        by_speaker.setdefault(clip["speaker"], []).append(clip["position"])
    assert all(positions == list(range(60)) for positions in by_speaker.values())
    assert len({round(c["gain_db"]) for c in report["clips"]}) > 8 and report["ms_per_5s"] > 0


def test_eval_tone_refuses_a_bad_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "tone.jsonl"
    manifest.write_text('{"file": "missing.flac", "speaker": "a", "language": "en", "emotion": "angry"}\n')
    result = runner.invoke(app, ["eval", "tone", str(manifest), "--json"])
    assert result.exit_code == 1 and "not found" in json.loads(result.stdout)["error"]
    manifest.write_text('{"file": "x.flac"}\n')
    result = runner.invoke(app, ["eval", "tone", str(manifest)])
    assert result.exit_code == 1 and "speaker" in result.output
