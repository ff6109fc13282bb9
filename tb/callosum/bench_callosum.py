"""Latency/throughput measurements of the callosum (``make bench``).

Open-loop traffic: each node, each cycle, creates a packet with probability
offered / packet_flits into an unbounded source queue. After a warm-up,
packets created during the measurement window are timed from creation to the
arrival of their tail (source queueing included); accepted throughput is the
flits delivered during the window per node per cycle. Generation then stops
and the network must drain: every packet is checked by the golden model's
scoreboard, which stops the bench at once on a duplicate, a corrupted or
misdelivered packet or one out of order; "lost" counts the packets still
outstanding after the drain (any makes the bench fail), "duplicated" stays 0
because a duplicate would already have failed it. Results go to
HEMI_BENCH_OUT.
"""

import json
import os
import random

import cocotb

from sw_model import callosum as net
from tb.callosum.mesh_tb import MeshTB

WARMUP, WINDOW = 300, 1500


async def load_point(tb, pattern, packet_flits, offered):
    rng = tb.rng
    W, H, fw = tb.W, tb.H, tb.fw
    p = offered / packet_flits
    ids = [0] * tb.N
    stop = tb.cycle + WARMUP + WINDOW
    window = (tb.cycle + WARMUP, stop)

    def generate(tb):
        if tb.cycle >= stop:
            return
        for i in range(tb.N):
            if rng.random() < p:
                src = tb.xy(i)
                dst = net.pattern_destination(pattern, src, W, H, rng)
                words = tuple(rng.getrandbits(fw) for _ in range(packet_flits - 1))
                tb.inject_packet(net.Packet(src, dst, 0, ids[i] & ((1 << (fw - 19)) - 1), words), timed=True)
                ids[i] += 1

    tb.records.clear()
    flits_before = None

    # Run to the window's start, then count deliveries inside it.
    await tb.run(cycles=WARMUP, generate=generate)
    flits_before = tb.delivered_flits
    await tb.run(cycles=WINDOW, generate=generate)
    accepted = (tb.delivered_flits - flits_before) / (tb.N * WINDOW)
    await tb.run(until_drained=True, limit=200000)
    lost = tb.scoreboard.outstanding()
    lat = sorted(r[4] - r[2] for r in tb.records if window[0] <= r[2] < window[1])
    return {
        "mesh": f"{W}x{H}", "pattern": pattern, "packet_flits": packet_flits,
        "offered": offered, "accepted": round(accepted, 4),
        "avg_latency": round(sum(lat) / len(lat), 2) if lat else None,
        "p99_latency": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
        "packets_timed": len(lat), "lost": lost, "duplicated": 0,
    }


async def zero_load(tb):
    """One packet alone in the network per destination: head accepted to
    tail delivered, by hop count (single-flit packets from node (0, 0))."""
    out = {}
    for y in range(tb.H):
        for x in range(tb.W):
            tb.records.clear()
            tb.inject_packet(net.Packet((0, 0), (x, y), 0, 1), timed=True)
            await tb.run(until_drained=True, limit=1000)
            src, dst, gen, inj, ej, n = tb.records[0]
            hops = net.hops((0, 0), (x, y))
            out.setdefault(hops, ej - inj)
    return [{"hops": h, "latency_cycles": c} for h, c in sorted(out.items())]


@cocotb.test()
async def bench_curves(dut):
    tb = MeshTB(dut)
    tb.rng = random.Random(3)
    await tb.reset()
    result = {"zero_load": await zero_load(tb), "curves": []}
    loads = [float(x) for x in os.environ["HEMI_BENCH_LOADS"].split(",")]
    for spec in os.environ["HEMI_BENCH_CURVES"].split(","):
        pattern, flits = spec.split(":")
        for offered in loads:
            point = await load_point(tb, pattern, int(flits), offered)
            tb.scoreboard.check_empty()
            result["curves"].append(point)
            dut._log.info("bench %s", point)
    with open(os.environ["HEMI_BENCH_OUT"], "w") as f:
        json.dump(result, f)
