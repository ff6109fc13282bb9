"""What a random bench ran and checked, for long (soak) runs: simulated
cycles and checked transactions, reported by the test itself.

``TB_STATS`` names a JSON file the final counts go to (``{test: counts}``);
``TB_PROGRESS`` a file that holds the latest counts while the test runs
(rewritten at most every PROGRESS_SECONDS of wall time). Both unset (as in
``make test``): the final counts are only logged.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

PROGRESS_SECONDS = 1.0


def int_env(name: str, default: int) -> int:
    """An integer knob from the environment (``default`` when unset or empty)."""
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _write(path: str, data: dict):
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)        # readers never see a half-written file


class Progress:
    """Counts of one test: ``update(**counts)`` as it goes, ``done(log)`` at the end."""

    def __init__(self, test: str):
        self.test = test
        self.counts: dict = {}
        self._last = 0.0

    def update(self, **counts):
        self.counts.update(counts)
        path = os.environ.get("TB_PROGRESS")
        now = time.monotonic()
        if path and now - self._last >= PROGRESS_SECONDS:
            self._last = now
            _write(path, {"test": self.test, **self.counts})

    def done(self, log=None, **counts):
        self.counts.update(counts)
        text = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        if log is not None:
            log.info("%s checked: %s", self.test, text)
        path = os.environ.get("TB_STATS")
        if path:
            data = {}
            if Path(path).exists():
                data = json.loads(Path(path).read_text() or "{}")
            data[self.test] = dict(self.counts)
            _write(path, data)
