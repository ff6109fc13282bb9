"""Seeds for random tests: ``SEED=<n>`` replays a run; otherwise a fresh one
is drawn and printed so a failure can be replayed."""

import os
import random


def test_seed(log=None) -> int:
    env = os.environ.get("SEED")
    seed = int(env) if env not in (None, "") else random.SystemRandom().randrange(1 << 31)
    msg = f"SEED={seed} (replay a failure with SEED={seed})"
    if log is not None:
        log.info(msg)
    else:
        print(msg)
    return seed


def seed_bench(tb, log):
    """Draw (or replay) the test's seed, store it on ``tb`` for mismatch
    messages, and apply the run's idle/back-pressure patterns from it.
    Returns the seed."""
    import random as _random

    tb.seed = test_seed(log)
    tb.rng = _random.Random(tb.seed)
    idle, bp = patterns_from_env()
    tb.set_patterns(idle, bp, tb.rng)
    return tb.seed


def patterns_from_env():
    """(idle, back-pressure) probabilities a bench run was started with."""
    return float(os.environ.get("TB_IDLE", "0")), float(os.environ.get("TB_BACKPRESSURE", "0"))
