"""The UART and the host-port bridge in the Amaranth simulator: exact 8N1
bit timing on tx, words through a tx -> rx loopback under back-pressure,
realignment after a half-sent word, overruns counted."""

import random

import pytest

from fpga.uart import HostUart, UARTRx
from tb.common.amaranth_sim import simulate

D = 6          # clock cycles per bit


def frame_bits(byte):
    return [0] + [(byte >> i) & 1 for i in range(8)] + [1]



def decode_line(samples, divisor):
    """Bytes from a line sampled every cycle; checks that every bit lasts
    exactly ``divisor`` cycles and every stop bit is high."""
    out, i = [], 0
    while i < len(samples):
        if samples[i]:
            i += 1
            continue
        bits = samples[i:i + 10 * divisor]
        if len(bits) < 9 * divisor + divisor // 2:
            break
        for k in range(9):
            chunk = bits[k * divisor:(k + 1) * divisor]
            assert len(set(chunk)) == 1, f"bit {k} of a frame at cycle {i} is not {divisor} cycles long: {chunk}"
        assert bits[9 * divisor + divisor // 2] == 1, f"stop bit low at cycle {i}"
        out.append(sum(bits[(k + 1) * divisor] << k for k in range(8)))
        i += 9 * divisor + divisor // 2 + 1
    return out


@pytest.mark.parametrize("fw", [32, 40])
def test_words_out_as_bytes_with_exact_timing(fw):
    rng = random.Random(fw)
    dut = HostUart(fw, D)
    words = [rng.getrandbits(fw) for _ in range(6)]
    nbytes = -(-fw // 8)
    samples = []

    async def bench(ctx):
        pending = list(words)
        for _ in range(len(words) * nbytes * 10 * D + 200):
            ctx.set(dut.i_word.valid, int(bool(pending)))
            if pending:
                ctx.set(dut.i_word.payload, pending[0])
            rdy = ctx.get(dut.i_word.ready)
            samples.append(ctx.get(dut.tx))
            await ctx.tick()
            if pending and rdy:
                pending.pop(0)

    simulate(dut, bench)
    expect = [(w >> (8 * b)) & 0xFF for w in words for b in range(nbytes)]
    assert decode_line(samples, D) == expect


class Loopback(HostUart):
    """A bridge whose tx drives its own rx."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.rx.eq(self.tx)
        return m


def test_loopback_words_with_backpressure():
    rng = random.Random(3)
    dut = Loopback(32, D)
    words = [rng.getrandbits(32) for _ in range(20)]
    got = []

    async def bench(ctx):
        pending = list(words)
        for _ in range(len(words) * 4 * 10 * D + 400):
            ctx.set(dut.i_word.valid, int(bool(pending)))
            if pending:
                ctx.set(dut.i_word.payload, pending[0])
            take = rng.random() < 0.3
            ctx.set(dut.o_word.ready, int(take))
            rdy, ov, o = ctx.get(dut.i_word.ready), ctx.get(dut.o_word.valid), ctx.get(dut.o_word.payload)
            await ctx.tick()
            if pending and rdy:
                pending.pop(0)
            if ov and take:
                got.append(o)
        assert ctx.get(dut.overruns) == 0 and ctx.get(dut.frame_errors) == 0

    simulate(dut, bench)
    assert got == words


async def drive_bytes(ctx, pin, data, divisor, gap=0):
    for byte in data:
        for b in frame_bits(byte):
            ctx.set(pin, b)
            await ctx.tick().repeat(divisor)
        if gap:
            await ctx.tick().repeat(gap)


def test_half_word_is_dropped_after_idle_and_overruns_counted():
    dut = HostUart(32, D, rx_fifo_words=4, resync_bits=20)
    got = []

    async def bench(ctx):
        ctx.set(dut.o_word.ready, 0)
        await drive_bytes(ctx, dut.rx, [0xAA, 0xBB], D)          # a host that died mid-word
        await ctx.tick().repeat(30 * D)                          # longer than the resync time
        words = [0x11223344, 0x55667788, 0x0BADF00D, 0x12345678, 0xCAFEBABE, 0xDEADBEEF]
        await drive_bytes(ctx, dut.rx, [(w >> (8 * i)) & 0xFF for w in words for i in range(4)], D)
        await ctx.tick().repeat(4 * D)
        assert ctx.get(dut.overruns) == 2                        # the FIFO holds 4 words
        ctx.set(dut.o_word.ready, 1)
        for _ in range(40):                                      # a word leaves the FIFO in 4 cycles
            if ctx.get(dut.o_word.valid):
                got.append(ctx.get(dut.o_word.payload))
            await ctx.tick()

    simulate(dut, bench)
    assert got == [0x11223344, 0x55667788, 0x0BADF00D, 0x12345678]


def test_rx_counts_frame_errors():
    dut = UARTRx(D)

    async def bench(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3)
        for b in [0] + [1] * 8 + [0]:                            # stop bit low
            ctx.set(dut.rx, b)
            await ctx.tick().repeat(D)
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * D)
        assert ctx.get(dut.frame_errors) == 1

    simulate(dut, bench)
