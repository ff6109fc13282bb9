"""A UART (8N1) and the bridge that carries the chip's host port over it.

The host port is a stream of ``flit_width``-bit words (a packet is a head
word and its data words, sw_model/chip_map.py). On the wire each word is
``ceil(flit_width / 8)`` bytes, least significant first, in both
directions. A UART cannot push back, so received words wait in a FIFO in
front of the chip; a word that finds the FIFO full is dropped and counted
(``overruns``), and a word left incomplete for ``resync`` bit times is
discarded, so a host that restarts mid-word finds the bridge aligned again.

The error counters saturate at ``count_bits`` bits (16 by default); a board
that only lights a LED on them asks for 1 bit, a sticky flag, each of whose
flip-flops would otherwise cost a logic cell on the iCE40.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.memattrs import no_collision


def _check(component, name, value, lo):
    if not isinstance(value, int) or value < lo:
        component._MustUse__silence = True
        raise ValueError(f"{type(component).__name__}: {name} = {value!r}: must be an integer >= {lo}")


def _count(m, counter, cond):
    """A saturating event counter."""
    with m.If(cond & ~counter.all()):
        m.d.sync += counter.eq(counter + 1)


class UARTRx(wiring.Component):
    """Samples ``rx`` in the middle of each bit; ``divisor`` clock cycles per
    bit. Bytes leave on ``o`` (no back-pressure: a byte not taken at once is
    lost, the bridge in front of it never refuses one); the payload is the
    shift register itself, which holds for a bit time and more after the
    byte's one-cycle ``valid``. ``frame_errors`` counts stop bits read as 0
    (``count_bits`` wide, saturating)."""

    def __init__(self, divisor, count_bits=16):
        _check(self, "divisor", divisor, 4)
        _check(self, "count_bits", count_bits, 1)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "frame_errors": Out(count_bits)})

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
        m.d.comb += self.o.payload.eq(shift)
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
                m.d.sync += [busy.eq(0), self.o.valid.eq(rx)]
                _count(m, self.frame_errors, ~rx)
        return m


class UARTTx(wiring.Component):
    """Sends each word taken from ``i`` as ``nbytes`` 8N1 frames, least
    significant byte first, ``divisor`` cycles per bit. The word is shifted
    out of the register that took it, a data bit at a time (no byte or
    frame register behind it); ``i`` is ready again once the last stop bit
    has nearly ended."""

    def __init__(self, divisor, nbytes=1):
        _check(self, "divisor", divisor, 4)
        _check(self, "nbytes", nbytes, 1)
        self.divisor, self.nbytes = divisor, nbytes
        super().__init__({"i": In(stream.Signature(8 * nbytes)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        D = self.divisor
        timer = Signal(range(D))
        shift = Signal(8 * self.nbytes)
        pos = Signal(range(10))            # the frame's next bit: 0 start, 1..8 data, 9 stop
        frames = Signal(range(self.nbytes + 1))   # frames still to send, the current one included
        m.d.comb += self.i.ready.eq(frames == 0)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(self.i.payload), frames.eq(self.nbytes), pos.eq(0), timer.eq(0)]
        with m.Elif(frames != 0):
            with m.If(timer == 0):
                # Bit `pos` starts.
                data_bit = (pos != 0) & (pos != 9)
                m.d.sync += [self.tx.eq(Mux(data_bit, shift[0], pos != 0)), timer.eq(D - 1),
                             pos.eq(Mux(pos == 9, 0, pos + 1))]
                with m.If(data_bit):
                    m.d.sync += shift.eq(shift >> 1)
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
                # The end of a stop bit (the only bit sent with pos back at
                # 0): the next frame starts at once; after the last, a new
                # word can be taken a cycle before its start bit is due.
                with m.If((timer == 1) & (pos == 0)):
                    m.d.sync += frames.eq(frames - 1)
        return m


class HostUart(wiring.Component):
    """UART pins <-> the chip's host port (``o_word`` into the chip's
    ``i_host``, ``i_word`` from its ``o_host``).

    Received words wait in a FIFO of ``rx_fifo_words`` word slots (a power
    of two) kept as bytes: the memory is 8 bits wide, so one iCE40 block RAM
    holds 128 words of 4 bytes, where 32-bit words would take two. Each byte
    is written into the next free slot as it arrives (no word register on
    the way in), and the slot joins the FIFO with the word's last byte; a
    word that starts while every slot is taken is dropped and counted in
    ``overruns``. The oldest word is read out byte by byte into the
    register that ``o_word`` offers; its slot is freed when the chip takes
    it, so ``rx_fifo_words`` words wait in all. The slot pointers make the
    FIFO's level: no level counter.

    Words to send go to :class:`UARTTx` whole (it shifts them out)."""

    def __init__(self, flit_width, divisor, rx_fifo_words=128, resync_bits=40, count_bits=16):
        _check(self, "divisor", divisor, 4)
        _check(self, "rx_fifo_words", rx_fifo_words, 2)
        _check(self, "count_bits", count_bits, 1)
        if rx_fifo_words & (rx_fifo_words - 1):
            self._MustUse__silence = True
            raise ValueError(f"HostUart: rx_fifo_words = {rx_fifo_words}: must be a power of two")
        self.fw, self.divisor = flit_width, divisor
        self.nbytes = -(-flit_width // 8)
        self.rx_fifo_words, self.resync = rx_fifo_words, resync_bits * divisor
        self.count_bits = count_bits
        super().__init__({
            "rx": In(1, init=1), "tx": Out(1, init=1),
            "o_word": Out(stream.Signature(flit_width)),
            "i_word": In(stream.Signature(flit_width)),
            "overruns": Out(count_bits), "frame_errors": Out(count_bits),
        })

    def elaborate(self, platform):
        m = Module()
        B = self.nbytes
        k = (self.rx_fifo_words - 1).bit_length()        # slot index bits
        bb = (B - 1).bit_length()                         # byte index bits (a slot is 2**bb bytes)
        m.submodules.urx = urx = UARTRx(self.divisor, self.count_bits)
        m.submodules.utx = utx = UARTTx(self.divisor, B)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.frame_errors.eq(urx.frame_errors)]
        # Written only into a free slot, read only from a complete one: a
        # read and a write never meet at one address.
        m.submodules.bytes = mem = Memory(shape=8, depth=self.rx_fifo_words << bb, init=[],
                                          attrs=no_collision(platform))
        wr, rd = mem.write_port(), mem.read_port()
        # Slot pointers with a wrap bit: equal is empty, equal but the wrap bit full.
        w_ptr, r_ptr = Signal(k + 1), Signal(k + 1)
        full = (w_ptr[:k] == r_ptr[:k]) & (w_ptr[k] != r_ptr[k])

        # ---- bytes in -> the FIFO ---------------------------------------------
        # Each byte goes straight into its place in the slot at w_ptr; the
        # slot joins the FIFO (w_ptr moves) with the word's last byte. A
        # half-sent word is overwritten by the next, and a word that starts
        # while every slot is taken is dropped whole.
        got = Signal(range(B))         # bytes of the word so far
        dropping = Signal()            # the word under way found the FIFO full
        idle = Signal(range(self.resync + 1))
        drop = Mux(got == 0, full, dropping)
        m.d.comb += [wr.addr.eq(Cat(got[:bb], w_ptr[:k])), wr.data.eq(urx.o.payload),
                     wr.en.eq(urx.o.valid & ~drop)]
        with m.If(urx.o.valid):
            m.d.sync += [idle.eq(0), dropping.eq(drop)]
            with m.If(got == B - 1):
                m.d.sync += got.eq(0)
                with m.If(~drop):
                    m.d.sync += w_ptr.eq(w_ptr + 1)
                _count(m, self.overruns, drop)
            with m.Else():
                m.d.sync += got.eq(got + 1)
        with m.Elif(got != 0):
            # A word left half-sent: after `resync` idle bit times, start over.
            with m.If(idle == self.resync):
                m.d.sync += [got.eq(0), idle.eq(0)]
            with m.Else():
                m.d.sync += idle.eq(idle + 1)

        # ---- the FIFO -> the word register -> o_word -----------------------------
        # The word's last byte is the read port's data itself: no read is
        # issued while the word is on offer, so the port holds it.
        word = Signal(8 * (B - 1))
        asked = Signal(range(B + 1))   # bytes of the oldest word read so far
        arriving = Signal()            # the byte read last cycle is on rd.data
        m.d.comb += [rd.addr.eq(Cat(asked[:bb], r_ptr[:k])), rd.en.eq((w_ptr != r_ptr) & (asked != B)),
                     self.o_word.valid.eq((asked == B) & ~arriving),
                     self.o_word.payload.eq(Cat(word, rd.data)[:self.fw])]
        m.d.sync += arriving.eq(rd.en)
        with m.If(rd.en):
            m.d.sync += asked.eq(asked + 1)
        with m.If(arriving & (asked != B)):      # (the last byte stays on rd.data)
            m.d.sync += word.eq(Cat(word[8:], rd.data)[:len(word)])
        with m.If(self.o_word.valid & self.o_word.ready):
            m.d.sync += [asked.eq(0), r_ptr.eq(r_ptr + 1)]

        # ---- words out -> bytes ---------------------------------------------
        m.d.comb += [utx.i.valid.eq(self.i_word.valid), utx.i.payload.eq(self.i_word.payload),
                     self.i_word.ready.eq(utx.i.ready)]
        return m
