"""A UART (8N1) and the bridge that carries the chip's host port over it.

The host port is a stream of ``flit_width``-bit words (a packet is a head
word and its data words, sw_model/chip_map.py). On the wire each word is
``ceil(flit_width / 8)`` bytes, least significant first, in both
directions. A UART cannot push back, so received words wait in a FIFO in
front of the chip; a word that finds the FIFO full is dropped and counted
(``overruns``), and a word left incomplete for ``resync`` bit times is
discarded, so a host that restarts mid-word finds the bridge aligned again.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out


def _check(component, name, value, lo):
    if not isinstance(value, int) or value < lo:
        component._MustUse__silence = True
        raise ValueError(f"{type(component).__name__}: {name} = {value!r}: must be an integer >= {lo}")


class UARTRx(wiring.Component):
    """Samples ``rx`` in the middle of each bit; ``divisor`` clock cycles per
    bit. Bytes leave on ``o`` (no back-pressure: a byte not taken at once is
    lost, the bridge in front of it never refuses one). ``frame_errors``
    counts stop bits read as 0."""

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    frame_errors: Out(16)

    def __init__(self, divisor):
        _check(self, "divisor", divisor, 4)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        D = self.divisor
        # Two flops against metastability; rx idles high.
        sync1, rx = Signal(init=1), Signal(init=1)
        m.d.sync += [sync1.eq(self.rx), rx.eq(sync1)]
        timer = Signal(range(D * 3 // 2 + 1))
        bit = Signal(range(10))
        shift = Signal(8)
        busy = Signal()
        m.d.sync += self.o.valid.eq(0)
        with m.If(~busy):
            with m.If(~rx):                          # start bit edge
                m.d.sync += [busy.eq(1), timer.eq(D * 3 // 2 - 1), bit.eq(0)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            # Middle of data bit `bit` (0..7), then of the stop bit (8).
            m.d.sync += [timer.eq(D - 1), bit.eq(bit + 1)]
            with m.If(bit < 8):
                m.d.sync += shift.eq(Cat(shift[1:], rx))
            with m.Else():
                m.d.sync += busy.eq(0)
                with m.If(rx):
                    m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(shift)]
                with m.Elif(self.frame_errors != 0xFFFF):
                    m.d.sync += self.frame_errors.eq(self.frame_errors + 1)
        return m


class UARTTx(wiring.Component):
    """Sends each byte taken from ``i`` as 8N1, ``divisor`` cycles per bit."""

    i: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        _check(self, "divisor", divisor, 4)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        D = self.divisor
        timer = Signal(range(D))
        frame = Signal(10)                 # start, 8 data bits, stop; shifted out LSB first
        left = Signal(range(11))
        m.d.comb += self.i.ready.eq(left == 0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)), left.eq(10), timer.eq(0)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [self.tx.eq(frame[0]), frame.eq(frame >> 1), timer.eq(D - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
                with m.If((timer == 1) & (left != 0)):
                    m.d.sync += left.eq(left - 1)
        return m


class HostUart(wiring.Component):
    """UART pins <-> the chip's host port (``o_word`` into the chip's
    ``i_host``, ``i_word`` from its ``o_host``).

    Received words wait in a FIFO of bytes (8 bits wide, so one iCE40 block
    RAM holds 127 words of 4 bytes, where a FIFO of 32-bit words takes two):
    a word is written into it, byte by byte, once it is complete and the
    FIFO has room for all of it (otherwise it is dropped and counted in
    ``overruns``), and read out of it byte by byte into the word register
    that ``o_word`` offers. Up to ``rx_fifo_words`` words wait (one of them
    in the word register). A word takes ``nbytes`` cycles to go in or out,
    far less than the ``10 * nbytes * divisor`` it takes on the wire."""

    def __init__(self, flit_width, divisor, rx_fifo_words=128, resync_bits=40):
        _check(self, "divisor", divisor, 4)
        _check(self, "rx_fifo_words", rx_fifo_words, 2)
        self.fw, self.divisor = flit_width, divisor
        self.nbytes = -(-flit_width // 8)
        self.rx_fifo_words, self.resync = rx_fifo_words, resync_bits * divisor
        super().__init__({
            "rx": In(1, init=1), "tx": Out(1, init=1),
            "o_word": Out(stream.Signature(flit_width)),
            "i_word": In(stream.Signature(flit_width)),
            "overruns": Out(16), "frame_errors": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        B = self.nbytes
        depth = (self.rx_fifo_words - 1) * B          # the word register holds one more word
        m.submodules.urx = urx = UARTRx(self.divisor)
        m.submodules.utx = utx = UARTTx(self.divisor)
        m.submodules.bytes = fbytes = fifo.SyncFIFOBuffered(width=8, depth=depth)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.frame_errors.eq(urx.frame_errors)]

        # ---- bytes in -> words -> the FIFO, byte by byte --------------------------
        acc = Signal(8 * B)
        got = Signal(range(B + 1))
        idle = Signal(range(self.resync + 1))
        push = Signal(8 * B)          # the word being written into the FIFO
        to_push = Signal(range(B + 1))
        m.d.comb += [fbytes.w_data.eq(push[:8]), fbytes.w_en.eq(to_push != 0)]
        with m.If(to_push != 0):
            m.d.sync += [push.eq(push >> 8), to_push.eq(to_push - 1)]
        with m.If(urx.o.valid):
            m.d.sync += [acc.eq(Cat(acc[8:], urx.o.payload)), idle.eq(0)]
            with m.If(got == B - 1):
                m.d.sync += got.eq(0)
                # The next byte is 10 * divisor >= 40 cycles away, so the
                # previous word has long gone in (B <= 16).
                with m.If(fbytes.level <= depth - B):
                    m.d.sync += [push.eq(Cat(acc[8:], urx.o.payload)), to_push.eq(B)]
                with m.Elif(self.overruns != 0xFFFF):
                    m.d.sync += self.overruns.eq(self.overruns + 1)
            with m.Else():
                m.d.sync += got.eq(got + 1)
        with m.Elif(got != 0):
            # A word left half-sent: after `resync` idle bit times, start over.
            with m.If(idle == self.resync):
                m.d.sync += [got.eq(0), idle.eq(0)]
            with m.Else():
                m.d.sync += idle.eq(idle + 1)

        # ---- the FIFO -> the word register -> o_word -----------------------------
        word = Signal(8 * B)
        have = Signal(range(B + 1))   # bytes of the word register filled
        m.d.comb += [self.o_word.valid.eq(have == B), self.o_word.payload.eq(word[:self.fw]),
                     fbytes.r_en.eq(have != B)]
        with m.If(fbytes.r_en & fbytes.r_rdy):
            m.d.sync += [word.eq(Cat(word[8:], fbytes.r_data)), have.eq(have + 1)]
        with m.If(self.o_word.valid & self.o_word.ready):
            m.d.sync += have.eq(0)

        # ---- words out -> bytes ---------------------------------------------
        out = Signal(8 * B)
        sent = Signal(range(B + 1))
        m.d.comb += [self.i_word.ready.eq(sent == 0), utx.i.payload.eq(out[:8]), utx.i.valid.eq(sent != 0)]
        with m.If(self.i_word.valid & self.i_word.ready):
            m.d.sync += [out.eq(self.i_word.payload), sent.eq(B)]
        with m.Elif(utx.i.valid & utx.i.ready):
            m.d.sync += [out.eq(out >> 8), sent.eq(sent - 1)]
        return m
