"""The calibrator's thread lifecycle: one-shot commands fit in the foreground, and closing waits for a running
fit (a daemon thread inside torch at interpreter exit aborted `findesk ask` with exit status 134)."""

from __future__ import annotations

import threading
from pathlib import Path

from retrieval.calibrator import Calibrator
from retrieval.config import RetrievalConfig


class BlockingSnapshot:
    """An empty FAQ whose snapshot waits until released: stands for a fit that takes a while."""

    def __init__(self, *, block: bool) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        if not block:
            self.release.set()

    def __call__(self) -> tuple[dict, list]:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30)
        return {}, []


def test_close_waits_for_a_running_fit(tmp_path: Path) -> None:
    snapshot = BlockingSnapshot(block=True)
    calibrator = Calibrator(tmp_path, RetrievalConfig(), snapshot)
    order: list[str] = []
    fitting = threading.Thread(target=lambda: (calibrator.refit(), order.append("fit done")))
    fitting.start()
    assert snapshot.entered.wait(30)
    closing = threading.Thread(target=lambda: (calibrator.close(), order.append("closed")))
    closing.start()
    closing.join(0.5)
    assert closing.is_alive(), "close() returned while the fit was still running"
    snapshot.release.set()
    fitting.join(30)
    closing.join(30)
    assert order == ["fit done", "closed"]
    calibrator.refit()
    assert snapshot.calls == 1  # closed: no fit starts any more


def test_fit_now_fits_in_the_foreground_instead_of_waiting_for_the_timer(tmp_path: Path) -> None:
    snapshot = BlockingSnapshot(block=False)
    calibrator = Calibrator(tmp_path, RetrievalConfig(calibration_delay_s=3600), snapshot)
    calibrator.start()  # no saved model: a refit is scheduled an hour from now
    assert snapshot.calls == 1 and not calibrator.current
    calibrator.fit_now()
    assert snapshot.calls == 2 and calibrator.current
    calibrator.fit_now()  # current: nothing to do
    assert snapshot.calls == 2
    calibrator.close()
