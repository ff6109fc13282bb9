"""The FPGA flow's read/write collision marks (rtl.memattrs) and their
netlist rewrite (fpga.build.undefined_collisions)."""

import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.lib import fifo
from amaranth.lib.memory import Memory

from fpga import build
from rtl.config import load_config
from rtl.memattrs import NO_COLLISION, no_collision

PLATFORM = object()       # any platform: marks are emitted for one, not for None


def read_ports(il):
    """{(module, memory): [(TRANSPARENCY_MASK, COLLISION_X_MASK, CLK_ENABLE), ...]}"""
    out, module = {}, None
    for m in re.finditer(r"^module (\S+)$|^  cell \$memrd_v2 \S+\n(.*?)\n  end$", il, re.M | re.S):
        if m.group(1):
            module = m.group(1).lstrip("\\")
            continue
        body = m.group(2)
        mem = re.search(r'MEMID "\\\\(\S+)"', body).group(1)
        out.setdefault((module, mem), []).append(tuple(
            re.search(rf"\\{p} (\S+)", body).group(1)
            for p in ("TRANSPARENCY_MASK", "COLLISION_X_MASK", "CLK_ENABLE")))
    return out


class Mems(Elaboratable):
    """A marked memory with two write ports (one in another domain), a
    synchronous and an asynchronous read port; a marked memory for SPRAM
    (zero init); a marked one with a non-zero init; an unmarked one."""

    def __init__(self, mark=True):
        self.mark = mark

    def elaborate(self, platform):
        m = Module()
        m.domains.other = ClockDomain()
        nc = no_collision(platform) if self.mark else {}
        m.submodules.a = a = Memory(shape=8, depth=16, init=[], attrs=nc)
        a.write_port()
        a.write_port(domain="other")
        a.read_port()
        a.read_port(domain="comb")
        m.submodules.h = h = Memory(shape=8, depth=16, init=[],
                                    attrs=no_collision(platform, {"ram_style": "huge"}) if self.mark
                                    else {"ram_style": "huge"})
        h.write_port()
        h.read_port()
        m.submodules.i = i = Memory(shape=8, depth=16, init=[1, 2], attrs=nc)
        i.write_port()
        i.read_port()
        m.submodules.u = u = Memory(shape=8, depth=16, init=[])
        u.write_port()
        u.read_port()
        return m


def test_no_collision_marks_only_for_a_platform():
    assert no_collision(None) == {}
    assert no_collision(None, {"ram_style": "huge"}) == {"ram_style": "huge"}
    assert no_collision(PLATFORM, {"ram_style": "huge"}) == {"ram_style": "huge", NO_COLLISION: 1}
    assert NO_COLLISION not in rtlil.convert(Mems(), ports=[], platform=None)


def test_only_marked_synchronous_read_ports_get_collision_x():
    il = rtlil.convert(Mems(), ports=[], platform=PLATFORM)
    before, after = read_ports(il), read_ports(build.undefined_collisions(il))
    assert before[("top", "a")] == [("2'00", "2'00", "1"), ("2'00", "2'00", "0")]
    # Write port 0 shares the read port's clock; port 1 (domain other) does not.
    assert after[("top", "a")] == [("2'00", "2'01", "1"), ("2'00", "2'00", "0")]
    assert after[("top", "h")] == after[("top", "i")] == [("1'0", "1'1", "1")]
    assert after[("top", "u")] == before[("top", "u")] == [("1'0", "1'0", "1")]
    # Nothing else changes: the only differing lines are those masks.
    diff = [(x, y) for x, y in zip(il.splitlines(), build.undefined_collisions(il).splitlines()) if x != y]
    assert len(diff) == 3 and all("COLLISION_X_MASK" in x for x, _ in diff)


def test_marked_memory_keeps_its_init_handling():
    """strip_huge_init and the rewrite compose (either order): the SPRAM
    memory's zero init goes, the non-zero init stays, the masks are set."""
    il = rtlil.convert(Mems(), ports=[], platform=PLATFORM)
    one = build.undefined_collisions(build.strip_huge_init(il))
    two = build.strip_huge_init(build.undefined_collisions(il))
    assert one == two
    inits = re.findall(r'cell \$meminit_v2 \S+\n    parameter \\MEMID "\\\\(\S+)"', one)
    assert sorted(inits) == ["a", "i", "u"]
    assert "connect \\DATA 128'" in one and re.search(r"DATA 128'0+10+1\n", one)
    assert read_ports(one)[("top", "h")] == [("1'0", "1'1", "1")]


def test_unmarked_design_is_byte_identical():
    il = rtlil.convert(Mems(mark=False), ports=[], platform=PLATFORM)
    assert NO_COLLISION not in il
    assert build.undefined_collisions(il) == il
    marked = rtlil.convert(Mems(), ports=[], platform=PLATFORM)
    assert build.undefined_collisions(marked, fifos=False) != marked


def test_a_marked_transparent_port_is_refused():
    class T(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            m.submodules.t = t = Memory(shape=8, depth=4, init=[], attrs=no_collision(platform))
            t.read_port(transparent_for=(t.write_port(),))
            return m
    with pytest.raises(ValueError, match="transparent"):
        build.undefined_collisions(rtlil.convert(T(), ports=[], platform=PLATFORM))


def test_sync_fifo_buffered_storage_only():
    """The storage of lib.fifo.SyncFIFOBuffered (proven collision-free for
    the Amaranth source the build knows) is treated as marked; SyncFIFO
    reads asynchronously and is left alone; fifos=False leaves both."""
    class F(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            m.submodules.buf = fifo.SyncFIFOBuffered(width=8, depth=5)
            m.submodules.plain = fifo.SyncFIFO(width=8, depth=4)
            return m
    assert build._sync_fifo_storage_src() is not None, \
        "amaranth's SyncFIFOBuffered changed: re-check its proof, then update SYNC_FIFO_PROVEN"
    il = rtlil.convert(F(), ports=[], platform=None)
    after = read_ports(build.undefined_collisions(il))
    assert after[("top.buf", "storage")] == [("1'0", "1'1", "1")]
    assert after[("top.plain", "storage")] == [("1'0", "1'0", "0")]
    assert build.undefined_collisions(il, fifos=False) == il


def test_right_core_marks():
    """The right core: its parameter, u/ref, v, pointer and synapse
    memories and the spike FIFO read undefined data on a collision, never
    the accumulators (transparent on purpose)."""
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from rtl.right.core import RightCore
    cfg = load_config("tiny").right
    il = rtlil.convert(RightCore(cfg), name="rc", platform=ICEBreakerPlatform())
    ports = read_ports(build.undefined_collisions(il))
    x = {mem for (mod, mem), ps in ports.items() for _, cx, _ in ps if "1" in cx.split("'")[1]}
    lanes = range(cfg.lanes)
    assert x == ({f"{n}_{j}" for n in ("param0", "param1", "uref", "v") for j in lanes}
                 | {"ptr", "syn", "storage"})
    assert all(ps == [("1'1", "1'0", "1")] for (mod, mem), ps in ports.items() if mem.startswith("acc_"))
    assert NO_COLLISION not in rtlil.convert(RightCore(cfg), name="rc", platform=None)


def test_tiles_mark_their_stores_and_tables():
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    from rtl.chip.left_tile import LeftTile
    from rtl.chip.right_tile import RightTile
    cfg = load_config("tiny")
    il = build.undefined_collisions(rtlil.convert(LeftTile(cfg, 0, 1), name="lt", platform=ICEBreakerPlatform()))
    ports = read_ports(il)
    assert {mem for (mod, mem), ps in ports.items() if mod == "lt"} == {"weights", "bias", "mult", "shift", "act"}
    assert all(ps == [("1'0", "1'1", "1")] for (mod, mem), ps in ports.items() if mod == "lt")
    il = build.undefined_collisions(rtlil.convert(RightTile(cfg, 1, 0), name="rt", platform=ICEBreakerPlatform()))
    ports = read_ports(il)
    assert ports[("rt", "out_ptr")] == ports[("rt", "out_dest")] == [("1'0", "1'1", "1")]
    # The rate encoder reads only to scan, one element ahead of its
    # write-back, and loads write only while it does not scan: marked.
    # The spike counter (transparent) stays exact.
    assert ports[("rt.enc", "mem")] == [("1'0", "1'1", "1")]
    assert ports[("rt.counter", "mem")] == [("1'1", "1'0", "1")]
