"""Estimated register-to-register delays of a synthesized ECP5 netlist, in
seconds instead of a place-and-route run.

    python -m tools.logic_depth build/fpga-ooc/chip/chip.json [--top 20] [--ns 20] [--fanout N]

Reads the yosys JSON that ``synth_ecp5`` wrote (``tools.ooc_timing --synth-only``
or the board build's ``build/fpga/<board>/hemi_<board>.json``), builds the
timing graph of its cells and prints the slowest endpoints: their estimated
arrival time and the path of cells that leads there. A whole-chip nextpnr run
of the default chip takes most of an hour and its router may not converge;
this takes seconds, so a pipelining change can be checked before a real run.

The delay model is coarse on purpose (ECP5 speed 6, from nextpnr's critical
path reports of this design): every net between slices costs ``--route`` ns
(routing, the larger part of this design's paths), a LUT 0.4 ns, a carry step
inside a chain 0.06 ns, a PFUMX/L6MUX 0.2 ns, a block RAM read 5.8 ns after the
clock, an unregistered multiplier 4.5 ns, a distributed RAM read 0.6 ns. It
ranks paths well; trust nextpnr for the figure.
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import sys
from collections import defaultdict

LUT, CARRY_IN, CARRY_OUT, MUX = 0.4, 0.06, 0.45, 0.2
FF_CLK_Q, FF_SETUP = 0.45, 0.1
BRAM_CLK_Q, MULT_COMB, DPR_READ = 5.8, 4.5, 0.6


def _arcs(cell):
    """(input port -> output port -> logic delay) of one cell, and whether
    its outputs start paths (registered) and its inputs end them."""
    t, p = cell["type"], cell.get("parameters", {})
    dirs = cell.get("port_directions", {})
    ins = [q for q, d in dirs.items() if d == "input"]
    outs = [q for q, d in dirs.items() if d == "output"]
    if t in ("LUT4", "LUT2"):
        return {i: {"Z": LUT} for i in ins}, [], []
    if t == "CCU2C":
        arcs = {}
        for i in ins:
            if i == "CIN":
                arcs[i] = {"COUT": CARRY_IN, "S0": 0.3, "S1": 0.3}
            else:
                arcs[i] = {o: CARRY_OUT for o in outs}
        return arcs, [], []
    if t in ("PFUMX", "L6MUX21"):
        return {i: {"Z": MUX} for i in ins}, [], []
    if t == "TRELLIS_DPR16X4":
        return {"RAD": {"DO": DPR_READ}}, [], ["DI", "WAD", "WRE"]
    if t == "MULT18X18D":
        registered = any(str(v).strip() != "NONE" for k, v in p.items()
                         if k.startswith("REG_INPUT") and k.endswith("_CLK"))
        if registered:
            return {}, outs, ins
        return {i: {o: MULT_COMB for o in outs} for i in ins}, [], []
    if t in ("TRELLIS_FF",):
        return {}, ["Q"], [i for i in ins if i != "CLK"]
    if t in ("DP16KD", "PDPW16KD"):
        return {}, outs, [i for i in ins if not i.startswith("CLK")]
    # anything else (IO, PLL, scope info): a boundary both ways
    return {}, outs, ins


def _bits(conn):
    return [b for b in conn if isinstance(b, int)]


def analyse(path, route_ns=1.0, top=20):
    data = json.load(open(path))
    mods = data["modules"]
    # the top module: the one with the most cells
    top_mod = max(mods.values(), key=lambda m: len(m.get("cells", {})))
    cells = top_mod["cells"]
    driver = {}                 # bit -> (cell, port, start delay or None)
    loads = defaultdict(list)   # bit -> [(cell, port)]
    info = {}
    for name, c in cells.items():
        if c["type"] == "$scopeinfo":
            continue
        arcs, starts, ends = _arcs(c)
        info[name] = (c["type"], arcs, set(starts), set(ends))
        for port, conn in c["connections"].items():
            d = c.get("port_directions", {}).get(port)
            for b in _bits(conn):
                if d == "output":
                    driver[b] = (name, port)
                elif d == "input":
                    loads[b].append((name, port))
    netname = {}
    for n, net in top_mod.get("netnames", {}).items():
        for b in _bits(net["bits"]):
            if b not in netname or len(n) < len(netname[b]):
                netname[b] = n

    def out_time_seed(cell, port):
        t = info[cell][0]
        if t in ("DP16KD", "PDPW16KD"):
            return BRAM_CLK_Q
        if t == "MULT18X18D":
            return MULT_COMB
        return FF_CLK_Q

    # arrival[bit] = latest time the bit settles; prev[bit] = the bit before
    arrival, prev = {}, {}
    # longest path over a DAG: process bits in topological order (Kahn)
    indeg = defaultdict(int)
    for b, ls in loads.items():
        pass
    cell_in_bits = defaultdict(list)
    for name, (t, arcs, starts, ends) in info.items():
        c = cells[name]
        for port in arcs:
            for b in _bits(c["connections"].get(port, [])):
                cell_in_bits[name].append((b, port))
    # bit-level graph edges: in bit -> out bit with delay
    edges = defaultdict(list)
    for name, (t, arcs, starts, ends) in info.items():
        c = cells[name]
        for ip, outs in arcs.items():
            for ib in _bits(c["connections"].get(ip, [])):
                for op, dl in outs.items():
                    for ob in _bits(c["connections"].get(op, [])):
                        # a carry chain's CIN/COUT and a PFUMX's inputs stay in the slice
                        wire = 0.0 if ip in ("CIN",) or t in ("PFUMX", "L6MUX21") else route_ns
                        edges[ib].append((ob, dl + wire, name))
                        indeg[ob] += 1
    for b, (cell, port) in driver.items():
        if port in info[cell][2]:
            arrival[b] = out_time_seed(cell, port)
    nodes = set(driver) | set(edges)
    ready = [b for b in nodes if indeg[b] == 0]
    for b in ready:
        arrival.setdefault(b, 0.0)
    order = []
    while ready:
        b = ready.pop()
        order.append(b)
        for ob, dl, cell in edges.get(b, ()):
            t = arrival.get(b, 0.0) + dl
            if t > arrival.get(ob, -1.0):
                arrival[ob], prev[ob] = t, (b, cell)
            indeg[ob] -= 1
            if indeg[ob] == 0:
                ready.append(ob)
    loops = sum(1 for b in nodes if indeg[b] > 0)
    # endpoints: register / memory inputs
    ends = []
    for name, (t, arcs, starts, endports) in info.items():
        c = cells[name]
        for port in endports:
            for b in _bits(c["connections"].get(port, [])):
                if b in arrival:
                    ends.append((arrival[b] + route_ns + FF_SETUP, name, port, b))
    ends.sort(reverse=True)
    # fanout of every bit driven through logic (not straight from a register
    # or memory): a wide enable computed late has to cross the die after it
    fanout = {b: len(loads[b]) for b in arrival if b in driver and driver[b][1] not in info[driver[b][0]][2]}
    return ends, arrival, prev, netname, loops, fanout


def _short(name):
    name = re.sub(r"_(TRELLIS_FF|LUT4|CCU2C|PFUMX|L6MUX21)_[A-Z0-9_]*", "", name)
    return name.replace("$abc$", "").replace("$auto$", "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("netlist")
    ap.add_argument("--top", type=int, default=10, help="paths to print")
    ap.add_argument("--ns", type=float, default=20.0, help="the clock period to count failing endpoints against")
    ap.add_argument("--route", type=float, default=1.0, help="ns per net between slices")
    ap.add_argument("--distinct", action="store_true", help="one path per endpoint register name prefix")
    ap.add_argument("--match", help="print only endpoints whose register or net name matches this regex")
    ap.add_argument("--fanout", type=int, metavar="N",
                    help="instead, list the nets computed through logic that have N or more loads, latest "
                         "first: such a net (an enable) spends most of its time in routing, which this "
                         "model does not see")
    args = ap.parse_args(argv)
    ends, arrival, prev, netname, loops, fanout = analyse(args.netlist, args.route, args.top)
    if args.fanout:
        wide = sorted(((arrival[b], n, b) for b, n in fanout.items() if n >= args.fanout), reverse=True)
        print(f"{len(wide)} nets computed through logic with {args.fanout} or more loads")
        for at, n, b in wide[:args.top]:
            print(f"  {at:5.1f} ns  {n:5d} loads  {_short(netname.get(b, '?'))[:100]}")
        return 0
    failing = [e for e in ends if e[0] > args.ns]
    print(f"{len(ends)} endpoints, {len(failing)} over {args.ns} ns; worst {ends[0][0]:.1f} ns "
          f"(~{1000 / ends[0][0]:.1f} MHz)" + (f"; {loops} bits in combinational loops" if loops else ""))
    groups = defaultdict(int)
    for t, cell, port, b in failing:
        groups[_short(netname.get(b, cell)).rsplit(".", 1)[0]] += 1
    for g, n in sorted(groups.items(), key=lambda x: -x[1])[:25]:
        print(f"  {n:6d} failing endpoint bits in {g}")
    seen, shown = set(), 0
    for t, cell, port, b in ends:
        if args.match and not (re.search(args.match, cell) or re.search(args.match, netname.get(b, ""))):
            continue
        key = _short(netname.get(b, cell)).rsplit(".", 1)[0] if args.distinct else None
        if args.distinct and key in seen:
            continue
        seen.add(key)
        print(f"\n{t:5.1f} ns -> {cell}.{port}")
        chain, x = [], b
        while x in prev:
            x0, cell_ = prev[x]
            chain.append((arrival[x], cell_, netname.get(x, "?")))
            x = x0
        chain.append((arrival.get(x, 0.0), "start", netname.get(x, "?")))
        for at, c, n in reversed(chain):
            print(f"   {at:5.1f}  {_short(n)[:100]}" + (f"   [{_short(c)[:60]}]" if c != "start" else ""))
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    sys.exit(main())
