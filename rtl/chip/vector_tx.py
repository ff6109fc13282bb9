"""Int8 vector sender: a stream of elements becomes ACTIVATION packets.

Elements arrive one per beat on ``i_elem`` (``last`` on the final one); four
fill a word (element 4i + j in bits 8j..8j+7, the last word zero padded);
up to 15 words make a packet to the node ``dst_x``, ``dst_y``. A packet is
sent once it is full or the vector has ended (its head then carries
``ACT_LAST``), so the head's length is known before it leaves. Elements wait
while a packet is being sent.

The packet's words wait in a FIFO of 16-bit halves (low half first): 30 x 16
bits is one iCE40 block RAM, where 15 x 32 took two. A word then leaves
every other cycle, still faster than elements arrive (four cycles a word).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.chip_map import ACT_LAST, MAX_WORDS

from ..callosum.layouts import PacketType
from ..callosum.ni import tx_layout, tx_word

ELEMENT = data.StructLayout({"value": signed(8), "last": unsigned(1)})


class VectorSender(wiring.Component):
    def __init__(self, flit_width):
        self.flit_width = flit_width
        super().__init__({
            "i_elem": In(stream.Signature(ELEMENT)),
            "o_tx": Out(stream.Signature(tx_layout(flit_width))),
            "dst_x": In(3), "dst_y": In(3),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        # SyncFIFOBuffered holds `depth` entries: a whole packet of halves.
        m.submodules.halves = halves = fifo.SyncFIFOBuffered(width=16, depth=2 * MAX_WORDS)
        pack = Signal(8)               # the half's low byte, while its high byte is awaited
        nbytes = Signal(2)             # bytes of the word being filled
        nwords = Signal(4)             # words of the packet being filled
        pad = Signal()                 # the last word's high half (zeros) is still to be pushed
        sending = Signal()
        head_sent = Signal()
        final = Signal()               # the packet being sent ends the vector
        left = Signal(4)               # words of the packet still to send
        low, have_low = Signal(16), Signal()

        e = self.i_elem.payload
        m.d.comb += self.i_elem.ready.eq(~sending)
        take = self.i_elem.valid & self.i_elem.ready
        byte = e.value.as_unsigned()
        # A half is pushed with its high byte (bytes 1 and 3 of a word), or
        # early with the vector's last element (the rest of it zeros); a last
        # element in the low half of a word leaves its high half to `pad`,
        # pushed the next cycle (the FIFO always has room: it holds a whole
        # packet, and elements wait while the packet is sent).
        half = Signal(16)
        m.d.comb += half.eq(Mux(nbytes[0], (byte << 8) | pack, byte))
        push = take & (nbytes[0] | e.last)
        word_end = take & ((nbytes == 3) | e.last)
        m.d.comb += [halves.w_en.eq(push | pad), halves.w_data.eq(Mux(pad, 0, half))]
        m.d.sync += pad.eq(take & e.last & ~nbytes[1])
        with m.If(take):
            m.d.sync += [pack.eq(byte), nbytes.eq(nbytes + 1)]
        with m.If(word_end):
            m.d.sync += [nbytes.eq(0), nwords.eq(nwords + 1)]
            with m.If((nwords == MAX_WORDS - 1) | e.last):
                m.d.sync += [sending.eq(1), head_sent.eq(0), final.eq(e.last), left.eq(nwords + 1)]

        tx_data = Signal(32)
        m.d.comb += self.o_tx.payload.eq(tx_word(self.flit_width, self.dst_x, self.dst_y, PacketType.ACTIVATION,
                                                 left, tx_data))
        with m.If(sending & ~head_sent):
            m.d.comb += [self.o_tx.valid.eq(1), tx_data.eq(Mux(final, ACT_LAST, 0))]
            with m.If(self.o_tx.ready):
                m.d.sync += head_sent.eq(1)
        with m.Elif(sending):
            # A word's low half waits in `low` while its high half is read.
            with m.If(~have_low):
                m.d.comb += halves.r_en.eq(1)
                with m.If(halves.r_rdy):
                    m.d.sync += [low.eq(halves.r_data), have_low.eq(1)]
            with m.Else():
                m.d.comb += [self.o_tx.valid.eq(halves.r_rdy), tx_data.eq(Cat(low, halves.r_data)),
                             halves.r_en.eq(self.o_tx.ready)]
                with m.If(halves.r_rdy & self.o_tx.ready):
                    m.d.sync += [left.eq(left - 1), have_low.eq(0)]
                    with m.If(left == 1):
                        m.d.sync += [sending.eq(0), nwords.eq(0)]
        m.d.comb += self.busy.eq(sending | (nbytes != 0) | (nwords != 0))
        return m
