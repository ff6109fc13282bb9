"""Testbench for the callosum mesh (through MeshBenchTop's packed ports).

One coroutine runs the whole mesh each cycle: it samples every node's
handshakes, feeds each node's injection queue, reassembles the packets that
leave each node and hands them to the golden model's scoreboard, then drives
the next cycle's valid, data and (randomly back-pressured) ready vectors.
That keeps the Python cost per cycle to a handful of signal accesses.

Functional coverage (tb/common/fcov.py, ``callosum.<group>.<what>``) is
sampled from what the bench already knows: each delivered packet (type, hop
count, length, source, destination, and whether it had to wait for another
packet at its destination's output), the malformed kinds of the streams the
validator screens (``classify_errors``), the state of the traffic at each
reset, and back-pressure on every node's local input and output (bit masks
kept by the cycle loop, under the names a StreamSource/Sink would get).
"""

from __future__ import annotations

import os
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from rtl.config import load_config
from sw_model import callosum as net
from tb.common import fcov
from tb.common.streams import reset

#: Packet length buckets: head only, one word, several, the maximum (15).
LENGTH_EDGES = (0, 1, 2, net.MAX_LENGTH)
#: Excess latency buckets (cycles beyond the zero-load latency).
EXCESS_EDGES = (0, 1, 4)
#: Cycles from a tail entering its source's validator to its packet's head
#: leaving the destination, beyond one per hop, on an empty network with a
#: ready sink: one to commit the packet, one through the first router.
ZERO_LOAD = 1
#: Every way the local-input validator refuses a stream (the error kinds of
#: sw_model.callosum.validate_local; ``classify_errors`` names them).
MALFORMED_KINDS = ("off_mesh", "stray_body", "stray_tail", "early_tail", "late_tail",
                   "head_in_packet", "single_with_length", "head_without_length")
#: Where the traffic stood when reset was asserted (several may hold).
RESET_AT = ("quiet", "traffic", "mid_packet_in", "mid_packet_out")
RESET_HOLD_EDGES = (1, 2)


def classify_errors(flits, W, H):
    """The error kinds (MALFORMED_KINDS) one node's injected stream counts, in
    order: the state machine of ``net.validate_local``, naming each error
    (the bench checks that their number equals validate_local's count)."""
    kinds = []
    idle, in_packet, discard = 0, 1, 2
    state, remaining, head = idle, 0, 0
    len_shift, len_mask = net.HEAD_FIELDS["length"][0], (1 << net.HEAD_FIELDS["length"][1]) - 1

    def off_mesh(data):
        return (data & 7) >= W or ((data >> 3) & 7) >= H

    for kind, data in flits:
        if state == in_packet:
            if kind & net.HEAD_BIT:
                kinds.append("head_in_packet")
                state = idle
            elif remaining > 1:
                if kind == net.BODY:
                    remaining -= 1
                else:
                    kinds.append("early_tail")
                    state = idle
                continue
            else:
                if kind == net.TAIL:
                    if off_mesh(head):
                        kinds.append("off_mesh")
                    state = idle
                else:
                    kinds.append("late_tail")
                    state = discard
                continue
        elif state == discard:
            if not kind & net.HEAD_BIT:
                if kind == net.TAIL:
                    state = idle
                continue
            state = idle
        length = (data >> len_shift) & len_mask
        if kind == net.HEAD:
            if length:
                state, remaining, head = in_packet, length, data
            else:
                kinds.append("head_without_length")
                state = discard
        elif kind == net.SINGLE:
            if length:
                kinds.append("single_with_length")
            elif off_mesh(data):
                kinds.append("off_mesh")
        elif kind == net.BODY:
            kinds.append("stray_body")
            state = discard
        else:
            kinds.append("stray_tail")
    return kinds


class MeshTB:
    def __init__(self, dut, cfg=None):
        self.dut = dut
        self.cfg = cfg or load_config(os.environ.get("HEMI_CONFIG")).callosum
        c = self.cfg
        self.W, self.H, self.N, self.fw = c.width, c.height, c.nodes, c.flit_width
        self.lw = c.flit_width + 2
        self.mask = (1 << self.lw) - 1
        self.log = dut._log
        self.seed = None
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.cycle = 0
        # Per node: flits waiting to be injected, as (wire value, key, tail);
        # the head flit of a timed packet carries key = (src node, packet id),
        # the id also travels in the head's payload; the last flit of an
        # expected packet carries its cell in ``tails``.
        self.queues = [deque() for _ in range(self.N)]
        self.partial = [[] for _ in range(self.N)]
        self.scoreboard = net.Scoreboard(self.W, self.H, self.fw)
        self.generated = {}     # key -> generation cycle
        self.injected = {}      # key -> cycle its head entered the network
        self.records = []       # per timed packet: (src, dst, gen, inject, eject, flits)
        self.delivered_flits = 0
        self.idle_p = 0.0
        self.bp_p = 0.0
        self.rng = None
        self._in_valid = 0
        self._out_ready = 0
        self._in_data = 0
        self._held = 0          # nodes whose output flit was offered but not taken
        self._held_data = 0
        self.block_sinks = False    # hold every out_ready low (directed back-pressure)
        # Bit masks per node: inside a packet at the local input (head taken,
        # tail not yet) / output (head delivered, tail not yet); local input
        # / output back-pressured at least once.
        self.in_pkt = 0
        self.out_pkt = 0
        self.stalled_in = 0
        self.stalled_out = 0
        # Per (src, dst): for each expected packet, a cell that gets the
        # cycle its tail entered the source's validator (contention bins).
        self.tails = {}
        self.head_cycle = [0] * self.N      # when the packet arriving at each node began
        self.last_tail = [None] * self.N    # when the last packet at each node ended
        # With epoch tags on, the low 4 bits of every head payload name the
        # reset epoch the packet was queued in: one from before a reset is
        # then recognised whatever its content.
        self.epoch = 0
        self.epoch_tags = False
        self._declare_coverage()

    def set_patterns(self, idle, backpressure, rng):
        """Random idle cycles at every source, random back-pressure at every sink."""
        self.idle_p, self.bp_p, self.rng = idle, backpressure, rng

    def node(self, x, y):
        return y * self.W + x

    def xy(self, i):
        return (i % self.W, i // self.W)

    def port_name(self, direction, i):
        x, y = self.xy(i)
        return f"callosum.backpressure.{direction}_local_{x}_{y}"

    def _declare_coverage(self):
        W, H, N = self.W, self.H, self.N
        nodes = [f"{x}_{y}" for y in range(H) for x in range(W)]
        fcov.declare("callosum.packet.ptype", range(8))
        fcov.declare("callosum.packet.hops", range(W - 1 + H - 1 + 1))
        fcov.declare("callosum.packet.length", fcov.buckets(LENGTH_EDGES))
        fcov.declare("callosum.packet.src", nodes)
        fcov.declare("callosum.packet.dst", nodes)
        fcov.declare("callosum.contention.dst_output", ["waited_for_another_packet"])
        fcov.declare("callosum.latency.excess", fcov.buckets(EXCESS_EDGES))
        fcov.declare("callosum.malformed.kind", MALFORMED_KINDS)
        fcov.declare("callosum.reset.at", RESET_AT)
        fcov.declare("callosum.reset.hold", fcov.buckets(RESET_HOLD_EDGES))
        for i in range(N):
            for direction in ("i", "o"):
                fcov.declare(self.port_name(direction, i), ["stalled"])

    def _sample_stalls(self, direction, mask):
        for i in range(self.N):
            if mask >> i & 1:
                fcov.sample(self.port_name(direction, i), "stalled")

    async def reset(self):
        self.dut.in_valid.value = 0
        self.dut.out_ready.value = 0
        self.dut.in_data.value = 0
        await reset(self.dut)

    def reset_state(self):
        """Where the traffic stands now (RESET_AT names; several may hold)."""
        if not self.queued() and not self.scoreboard.outstanding():
            return ["quiet"]
        at = []
        if self.in_pkt:
            at.append("mid_packet_in")
        if self.out_pkt:
            at.append("mid_packet_out")
        return at or ["traffic"]

    async def reset_now(self, cycles):
        """Assert reset for ``cycles`` clock edges under whatever traffic is
        in flight. The sources are reset with the mesh: every injection queue
        and half-received packet is dropped, the scoreboard forgets what it
        expected, and the epoch advances (see ``epoch_tags``). Then release:
        the next ``run`` drives the first cycle after reset."""
        for at in self.reset_state():
            fcov.sample("callosum.reset.at", at)
        fcov.sample("callosum.reset.hold", fcov.bucket(cycles, RESET_HOLD_EDGES))
        dut = self.dut
        dut.rst.value = 1
        dut.in_valid.value = 0
        dut.in_data.value = 0
        dut.out_ready.value = 0
        self._in_valid = self._in_data = self._out_ready = 0
        self._held = 0
        for q in self.queues:
            q.clear()
        self.partial = [[] for _ in range(self.N)]
        self.scoreboard = net.Scoreboard(self.W, self.H, self.fw)
        self.generated.clear()
        self.injected.clear()
        self.tails.clear()
        self.in_pkt = self.out_pkt = 0
        self.last_tail = [None] * self.N
        self.epoch += 1
        for _ in range(cycles):
            await RisingEdge(dut.clk)
            self.cycle += 1
        dut.rst.value = 0

    async def check_quiet(self, cycles):
        """For ``cycles`` cycles with nothing injected: no local output offers
        a flit (a stale valid), every local input is ready (its validator
        empty) and the error counter reads 0."""
        dut, everyone = self.dut, (1 << self.N) - 1
        for _ in range(cycles):
            await RisingEdge(dut.clk)
            self.cycle += 1
            out_valid = dut.out_valid.value.to_unsigned()
            assert out_valid == 0, (
                f"cycle {self.cycle}: stale valid after reset at the local output of nodes "
                f"{[self.xy(i) for i in range(self.N) if out_valid >> i & 1]} (replay: SEED={self.seed})")
            in_ready = dut.in_ready.value.to_unsigned()
            assert in_ready == everyone, (
                f"cycle {self.cycle}: local input of nodes "
                f"{[self.xy(i) for i in range(self.N) if not in_ready >> i & 1]} not ready after "
                f"reset: its validator is not empty (replay: SEED={self.seed})")
            errors = dut.errors.value.to_unsigned()
            assert errors == 0, (f"cycle {self.cycle}: errors counter {errors} after reset, "
                                 f"expected 0 (replay: SEED={self.seed})")

    # ---- traffic -------------------------------------------------------------
    def inject_packet(self, packet, timed=False):
        """Queue a well-formed packet (sw_model Packet) at its source node;
        a timed packet's head payload is its id for latency bookkeeping."""
        src = self.node(*packet.src)
        flits = net.to_flits(packet, self.fw)
        self.scoreboard.expect(packet.src, flits)
        key = None
        if timed:
            key = (src, packet.head_payload)
            self.generated[key] = self.cycle
        tail = [None]
        self.tails.setdefault((packet.src, packet.dst), deque()).append(tail)
        self.queue_flits(src, flits, key, tail)
        return flits

    def queue_flits(self, src, flits, key=None, tail=None):
        """Queue raw flits at node ``src``. The head carries ``key`` (timed
        packets), the last flit ``tail`` (a one-element list that receives
        the cycle it is injected)."""
        q = self.queues[src]
        last = len(flits) - 1
        for k, (kind, data) in enumerate(flits):
            q.append((kind | (data << 2), key if k == 0 else None, tail if k == last else None))

    def queued(self):
        return sum(len(q) for q in self.queues)

    # ---- the cycle loop ----------------------------------------------------------
    async def run(self, cycles=None, until_drained=False, limit=100000, generate=None, until=None):
        """Advance ``cycles`` cycles, or until every queue is empty and every
        expected packet has arrived, or until ``until(tb)`` is true (at most
        ``limit`` cycles; returns the number of cycles run)."""
        dut, rng, lw, mask = self.dut, self.rng, self.lw, self.mask
        start = self.cycle
        while True:
            n = self.cycle - start
            if cycles is not None and n >= cycles:
                return n
            if until_drained and not self.queued() and not self.scoreboard.outstanding():
                return n
            if until is not None and until(self):
                return n
            if n >= limit:
                return n
            await RisingEdge(dut.clk)
            self.cycle += 1
            in_ready = dut.in_ready.value.to_unsigned()
            out_valid = dut.out_valid.value.to_unsigned()
            taken = self._in_valid & in_ready
            got = out_valid & self._out_ready
            stalled = self._in_valid & ~in_ready & ~self.stalled_in
            if stalled:
                self.stalled_in |= stalled
                self._sample_stalls("i", stalled)
            stalled = out_valid & ~self._out_ready & ~self.stalled_out
            if stalled:
                self.stalled_out |= stalled
                self._sample_stalls("o", stalled)
            # Stream rule at every sink: a flit offered and not taken stays
            # offered, unchanged.
            if self._held:
                assert out_valid & self._held == self._held, (
                    f"cycle {self.cycle}: o_local valid dropped before the flit was taken "
                    f"(nodes {self._held & ~out_valid:#x}; replay: SEED={self.seed})")
                now = dut.out_data.value.to_unsigned()
                for i in range(self.N):
                    if self._held >> i & 1:
                        assert (now >> (i * lw)) & mask == (self._held_data >> (i * lw)) & mask, (
                            f"cycle {self.cycle}: node {self.xy(i)} changed its offered flit "
                            f"before it was taken (replay: SEED={self.seed})")
            self._held = out_valid & ~self._out_ready
            if self._held:
                self._held_data = dut.out_data.value.to_unsigned()
            if taken:
                for i in range(self.N):
                    if taken >> i & 1:
                        value, key, tail = self.queues[i].popleft()
                        if value & net.TAIL_BIT:
                            self.in_pkt &= ~(1 << i)
                        elif value & net.HEAD_BIT:
                            self.in_pkt |= 1 << i
                        if key is not None:
                            self.injected[key] = self.cycle
                        if tail is not None:
                            tail[0] = self.cycle
            if got:
                out_data = dut.out_data.value.to_unsigned()
                for i in range(self.N):
                    if got >> i & 1:
                        self._receive(i, (out_data >> (i * lw)) & mask)
            if generate is not None:
                generate(self)
            # Drive the next cycle. A flit offered and not taken stays
            # offered; otherwise a queued flit is offered unless the idle
            # pattern inserts a gap.
            valid = 0
            data = 0
            waiting = self._in_valid & ~taken
            for i in range(self.N):
                q = self.queues[i]
                if q and (waiting >> i & 1 or not (self.idle_p and rng.random() < self.idle_p)):
                    valid |= 1 << i
                    data |= q[0][0] << (i * lw)
            if valid != self._in_valid:
                dut.in_valid.value = valid
                self._in_valid = valid
            if data != self._in_data:
                dut.in_data.value = data
                self._in_data = data
            ready = 0 if self.block_sinks else (1 << self.N) - 1
            if self.bp_p and ready:
                for i in range(self.N):
                    if rng.random() < self.bp_p:
                        ready &= ~(1 << i)
            if ready != self._out_ready:
                dut.out_ready.value = ready
                self._out_ready = ready

    def _receive(self, node, value):
        kind, data = value & 3, value >> 2
        if kind & net.HEAD_BIT:
            self.head_cycle[node] = self.cycle
        self.partial[node].append((kind, data))
        self.delivered_flits += 1
        if not kind & net.TAIL_BIT:
            self.out_pkt |= 1 << node
            return
        self.out_pkt &= ~(1 << node)
        flits = self.partial[node]
        self.partial[node] = []
        head = net.unpack_head(flits[0][1], self.fw)
        src = (head["src_x"], head["src_y"])
        if self.epoch_tags and flits[0][0] & net.HEAD_BIT and head["payload"] & 15 != self.epoch & 15:
            raise AssertionError(
                f"cycle {self.cycle}: packet {src} -> {self.xy(node)} queued before a reset (epoch "
                f"{head['payload'] & 15}, now {self.epoch & 15}) delivered after it "
                f"(replay: SEED={self.seed})")
        try:
            self.scoreboard.receive(self.xy(node), flits)
        except AssertionError as e:
            raise AssertionError(f"cycle {self.cycle}: {e} (replay: SEED={self.seed})") from None
        self._cover_delivery(node, src, head, len(flits) - 1)
        key = (self.node(*src), head["payload"])
        if key in self.generated:
            self.records.append((src, self.xy(node), self.generated.pop(key),
                                 self.injected.pop(key), self.cycle, len(flits)))

    def _cover_delivery(self, node, src, head, length):
        """Coverage of a packet the scoreboard has just accepted at ``node``."""
        dst = self.xy(node)
        hops = net.hops(src, dst)
        fcov.sample("callosum.packet.ptype", int(head["ptype"]))
        fcov.sample("callosum.packet.hops", hops)
        fcov.sample("callosum.packet.length", fcov.bucket(length, LENGTH_EDGES))
        fcov.sample("callosum.packet.src", f"{src[0]}_{src[1]}")
        fcov.sample("callosum.packet.dst", f"{dst[0]}_{dst[1]}")
        cells = self.tails.get((src, dst))
        previous, self.last_tail[node] = self.last_tail[node], self.cycle
        if not cells:
            return              # raw flits (malformed_among_good): no injection record
        tail_in = cells.popleft()[0]
        earliest = tail_in + hops + ZERO_LOAD
        fcov.sample("callosum.latency.excess", fcov.bucket(self.head_cycle[node] - earliest, EXCESS_EDGES))
        # It could have left by `earliest`, but the destination's output was
        # still carrying another packet then: the two competed for it.
        if previous is not None and previous >= earliest:
            fcov.sample("callosum.contention.dst_output", "waited_for_another_packet")

    async def errors(self):
        await RisingEdge(self.dut.clk)
        return self.dut.errors.value.to_unsigned()
