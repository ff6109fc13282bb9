"""``make soak``: long random regressions of the RTL against the golden models.

For each seed and unit, the unit's random cocotb test runs on Verilator
through the same runner as the tests (tb/sim.py: same builds, same bench
code, same checks), sized up by the benches' scale knobs:

- left: ``random_gemms`` with 1000 random GEMMs queued back to back;
- right: ``random_network`` with 20 random networks of 500 time steps each
  (10,000 LIF steps);
- callosum: ``traffic_patterns`` on a 4 x 4 mesh, rounds of the four
  patterns (32 packets per node each) until at least 1,000,000 cycles ran.

``--scale F`` multiplies those sizes (0.01 for a quick smoke run). Each seed
also picks the stream pattern (free flow, input gaps, back-pressure or both:
``sorted(PATTERNS)[seed % 4]``), so a seed replays exactly: ``SEED=<n> make
soak SEEDS=1 UNITS=<unit>`` (the command printed for every failure). Without
``--first-seed`` (or ``SEED``) the first seed is drawn at random and printed.

Every job runs in ``build/soak/seed-<n>/<unit>/`` (results.xml, sim.log, and
stats.json with what the bench ran and checked); ``build/soak/summary.json``
holds ``{unit: [{seed, passed, cycles, checked, seconds, ...}]}``, rewritten
after every job. A progress bar goes to stderr; the exit status is 1 if any
job failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tb.sim import PATTERNS, ROOT, Bench, _pythonpath

DEFAULT_OUT = ROOT / "build" / "soak"


@dataclass(frozen=True)
class Unit:
    name: str
    module: str
    test: str
    sections: dict          # the soak config: the tests' default point (shares its build)
    unit_word: str          # what one checked item is called in the progress line
    count_key: str          # the stats key that counts checked items


UNITS = {
    "left": Unit("left", "tb.left.test_left", "random_gemms",
                 {"left": {"rows": 8, "cols": 8, "acc_depth": 512}}, "GEMMs", "gemms"),
    "right": Unit("right", "tb.right.test_right", "random_network",
                  {"right": {"neurons": 256, "axons": 256, "lanes": 4, "synapse_rows": 4096}},
                  "steps", "steps"),
    "callosum": Unit("callosum", "tb.callosum.test_callosum", "traffic_patterns",
                     {"callosum": {"width": 4, "height": 4, "flit_width": 32, "fifo_depth": 4}},
                     "packets", "packets"),
}

# Full-size work per seed (--scale 1).
GEMMS = 1000
STEPS = 10_000
NETWORKS = 20
CYCLES = 1_000_000
PACKETS_PER_NODE = 32


def knobs(unit: str, scale: float) -> dict:
    """The bench's environment knobs for one soak job at ``scale``."""
    if unit == "left":
        return {"TB_GEMMS": str(max(1, math.ceil(GEMMS * scale)))}
    if unit == "right":
        networks = max(1, math.ceil(NETWORKS * scale))
        steps = max(1, math.ceil(STEPS * scale / networks))
        return {"TB_NETWORKS": str(networks), "TB_STEPS": str(steps)}
    if unit == "callosum":
        packets = max(2, min(PACKETS_PER_NODE, math.ceil(PACKETS_PER_NODE * scale * 10)))
        return {"TB_PACKETS": str(packets), "TB_ROUNDS": "1",
                "TB_MIN_CYCLES": str(max(1, math.ceil(CYCLES * scale)))}
    raise KeyError(unit)


def target(unit: str, env: dict) -> tuple[str, int]:
    """(stats key, amount) the job must reach to count as complete."""
    if unit == "left":
        return "gemms", int(env["TB_GEMMS"])
    if unit == "right":
        return "steps", int(env["TB_NETWORKS"]) * int(env["TB_STEPS"])
    return "cycles", int(env["TB_MIN_CYCLES"])


def pattern_for(seed: int) -> str:
    return sorted(PATTERNS)[seed % len(PATTERNS)]


def replay_command(seed: int, unit: str, scale: float, config: str | None) -> str:
    """The make command that replays one job, and its python equivalent."""
    cmd = f"SEED={seed} make soak SEEDS=1 UNITS={unit}"
    py = f"python -m tools.soak --seeds 1 --first-seed {seed} --units {unit}"
    if scale != 1:
        cmd += f" SCALE={scale:g}"
        py += f" --scale {scale:g}"
    if config:
        cmd += f" CONFIG={config}"
        py += f" --config {config}"
    return f"{cmd}   (or: {py})"


def _si(n) -> str:
    if n is None:
        return "?"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(int(n))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class ProgressBar:
    """One plain-text line on stderr: redrawn in place on a terminal, else
    printed when a job ends (and every ``every`` seconds while it runs)."""

    def __init__(self, total: int, stream=sys.stderr, width: int = 20, every: float = 60.0):
        self.total, self.stream, self.width, self.every = total, stream, width, every
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._last_print = time.monotonic()
        self._len = 0

    def line(self, done: float, text: str) -> str:
        filled = min(self.width, int(self.width * done / max(self.total, 1)))
        return f"[{'#' * filled}{'.' * (self.width - filled)}] {text}"

    def show(self, done: float, text: str, final: bool = False):
        s = self.line(done, text)
        if self.tty:
            pad = " " * max(0, self._len - len(s))
            self.stream.write("\r" + s + pad + ("\n" if final else ""))
            self._len = 0 if final else len(s)
        elif final or time.monotonic() - self._last_print >= self.every:
            self.stream.write(s + "\n")
            self._last_print = time.monotonic()
        self.stream.flush()


def describe(unit: Unit, counts: dict) -> str:
    n = counts.get(unit.count_key)
    return f"{n if n is not None else '?'} {unit.unit_word}, {_si(counts.get('cycles'))} cycles"


CLOCK_NS = 10     # every bench's clock period


def _failure(results: Path) -> str:
    """The first failure message in a cocotb results file."""
    from xml.etree import ElementTree

    for tag in ("failure", "error"):
        el = ElementTree.parse(results).getroot().find(f".//{tag}")
        if el is not None:
            return " / ".join((el.get("message") or el.get("type") or "?").splitlines()[:2])
    return "?"


def _sim_time_ns(results: Path) -> int:
    from xml.etree import ElementTree

    try:
        root = ElementTree.parse(results).getroot()
    except (OSError, ElementTree.ParseError):
        return 0
    return int(sum(float(p.get("value")) for p in root.iter("property")
                   if p.get("name") == "sim_time_duration"))


def run_job(bench: Bench, unit: Unit, seed: int, env: dict, run_dir: Path, on_progress=None) -> dict:
    """One seed of one unit in ``run_dir``; returns its summary record."""
    from cocotb_tools.check_results import get_results

    run_dir.mkdir(parents=True, exist_ok=True)
    results, stats, progress = (run_dir / n for n in ("results.xml", "stats.json", "progress.json"))
    for f in (results, stats, progress):
        f.unlink(missing_ok=True)
    log = run_dir / "sim.log"
    idle, bp = PATTERNS[env["pattern"]]
    extra_env = {"HEMI_CONFIG": str(bench.config_path), "PYTHONPATH": _pythonpath(),
                 "SEED": str(seed), "TB_IDLE": str(idle), "TB_BACKPRESSURE": str(bp),
                 "TB_STATS": str(stats), "TB_PROGRESS": str(progress), **env["knobs"]}
    error = None
    done = threading.Event()

    def poll():
        while not done.wait(1.0):
            if on_progress is not None:
                on_progress(_read_json(progress))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t0 = time.monotonic()
    try:
        bench._run_cocotb(unit.module, unit.test, run_dir, results, extra_env, log)
    except SystemExit as e:           # the simulator exited non-zero
        error = f"simulator exited with {e.code}"
    except Exception as e:            # noqa: BLE001 - a soak job reports, never aborts the soak
        error = f"{type(e).__name__}: {e}"
    seconds = time.monotonic() - t0
    done.set()
    poller.join()
    n_tests = n_failed = 0
    if results.exists():              # failed tests also end in SystemExit; the results say which
        error = None
        n_tests, n_failed = get_results(results)
        if n_tests == 0 or n_failed:
            error = f"{n_failed} of {n_tests} cocotb tests failed: {_failure(results)} (log: {log})"
    else:
        error = f"no results ({error or 'the simulation died'}); log: {log}"
    counts = _read_json(stats).get(unit.test) or _read_json(progress)
    counts.pop("test", None)
    passed = error is None
    if passed:
        key, want = target(unit.name, env["knobs"])
        if counts.get(key, 0) < want:     # the knobs did not reach the bench
            passed, error = False, f"ran {counts.get(key, 0)} {key}, asked for {want}"
    cycles = counts.pop("cycles", None)
    if cycles is None:                # the bench died before counting: simulated time / period
        cycles = _sim_time_ns(results) // CLOCK_NS
    return {"seed": seed, "passed": passed, "cycles": cycles, "checked": counts,
            "seconds": round(seconds, 1), "pattern": env["pattern"], "knobs": env["knobs"],
            "run_dir": str(run_dir), **({"error": error} if error else {})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2, help="number of seeds (default 2)")
    ap.add_argument("--first-seed", type=int, default=None,
                    help="first seed (default: $SEED, else drawn at random); seeds run first .. first+N-1")
    ap.add_argument("--units", default=",".join(UNITS),
                    help=f"comma-separated units (default {','.join(UNITS)})")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the work per seed (default 1: 1000 GEMMs, 10000 LIF steps, "
                         "1M callosum cycles; 0.01 for a smoke run)")
    ap.add_argument("--config", default=None,
                    help="chip config TOML to soak instead of the tests' default points")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="run folders and summary.json")
    args = ap.parse_args(argv)

    units = [u.strip() for u in args.units.split(",") if u.strip()]
    bad = [u for u in units if u not in UNITS]
    if bad or not units:
        ap.error(f"unknown unit(s) {', '.join(bad) or '(none)'}: choose from {', '.join(UNITS)}")
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    if not args.scale > 0:
        ap.error("--scale must be positive")
    first = args.first_seed
    if first is None:
        env_seed = os.environ.get("SEED", "").strip()
        first = int(env_seed) if env_seed else random.SystemRandom().randrange(1 << 31)
    seeds = list(range(first, first + args.seeds))

    from rtl.config import HemiConfig, load_config_cli

    base = load_config_cli(args.config) if args.config else None
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    print(f"soak: seeds {seeds[0]}..{seeds[-1]}, units {','.join(units)}, scale {args.scale:g}; "
          f"replay one with SEED=<n> make soak SEEDS=1 UNITS=<unit>", file=sys.stderr)

    benches = {}
    for name in units:
        u = UNITS[name]
        cfg = base if base is not None else HemiConfig.from_dict(u.sections, name=f"soak-{name}")
        print(f"soak: building the {name} model (cached in build/sim/)", file=sys.stderr)
        benches[name] = Bench(name, cfg, quiet=True)

    summary = {name: [] for name in units}
    jobs = [(seed, name) for seed in seeds for name in units]
    bar = ProgressBar(len(jobs))
    failures = []
    for j, (seed, name) in enumerate(jobs):
        u = UNITS[name]
        env = {"pattern": pattern_for(seed), "knobs": knobs(name, args.scale)}
        key, want = target(name, env["knobs"])
        head = f"{j + 1}/{len(jobs)} {name} seed {seed} ({env['pattern']})"
        t0 = time.monotonic()

        def on_progress(counts, j=j, head=head, key=key, want=want, t0=t0, u=u):
            frac = min(1.0, counts.get(key, 0) / want) if counts else 0.0
            bar.show(j + frac, f"{head}: {describe(u, counts)}, running {time.monotonic() - t0:.0f} s")

        bar.show(j, f"{head}: starting")
        rec = run_job(benches[name], u, seed, env, out / f"seed-{seed}" / name, on_progress)
        summary[name].append(rec)
        status = "PASS" if rec["passed"] else "FAIL"
        bar.show(j + 1, f"{head}: {describe(u, {**rec['checked'], 'cycles': rec['cycles']})}, "
                        f"{status} ({rec['seconds']:.0f} s)", final=True)
        if not rec["passed"]:
            cmd = replay_command(seed, name, args.scale, args.config)
            failures.append((name, seed, rec["error"], cmd))
            print(f"  FAIL {name} seed {seed}: {rec['error']}\n  replay: {cmd}\n"
                  f"  run folder: {rec['run_dir']}", file=sys.stderr)
        summary_path.write_text(json.dumps(summary, indent=1) + "\n")

    total_cycles = sum(r["cycles"] or 0 for recs in summary.values() for r in recs)
    print(f"soak: {len(jobs) - len(failures)}/{len(jobs)} passed, {_si(total_cycles)} cycles; "
          f"summary in {summary_path}", file=sys.stderr)
    for name, seed, error, cmd in failures:
        print(f"FAILED {name} seed {seed}: {error}\n  replay: {cmd}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
