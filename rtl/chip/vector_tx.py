"""Int8 vector sender: a stream of elements becomes ACTIVATION packets.

Elements arrive one per beat on ``i_elem`` (``last`` on the final one); four
fill a word (element 4i + j in bits 8j..8j+7, the last word zero padded);
up to 15 words make a packet to the node ``dst_x``, ``dst_y``. A packet is
sent once it is full or the vector has ended (its head then carries
``ACT_LAST``), so the head's length is known before it leaves. Elements wait
while a packet is being sent.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
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
        m.submodules.words = words = fifo.SyncFIFOBuffered(width=32, depth=MAX_WORDS + 1)
        pack = Signal(32)
        nbytes = Signal(2)
        nwords = Signal(4)             # words of the packet being filled
        sending = Signal()
        head_sent = Signal()
        final = Signal()               # the packet being sent ends the vector
        left = Signal(4)               # words of the packet still to send

        e = self.i_elem.payload
        m.d.comb += self.i_elem.ready.eq(~sending)
        take = self.i_elem.valid & self.i_elem.ready
        byte = e.value.as_unsigned()
        word = Signal(32)
        m.d.comb += word.eq(pack | (byte << (nbytes * 8)))
        push = take & ((nbytes == 3) | e.last)
        m.d.comb += [words.w_en.eq(push), words.w_data.eq(word)]
        with m.If(take):
            m.d.sync += [pack.eq(word), nbytes.eq(nbytes + 1)]
        with m.If(push):
            m.d.sync += [pack.eq(0), nbytes.eq(0), nwords.eq(nwords + 1)]
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
            m.d.comb += [self.o_tx.valid.eq(words.r_rdy), tx_data.eq(words.r_data),
                         words.r_en.eq(self.o_tx.ready)]
            with m.If(words.r_rdy & self.o_tx.ready):
                m.d.sync += left.eq(left - 1)
                with m.If(left == 1):
                    m.d.sync += [sending.eq(0), nwords.eq(0)]
        m.d.comb += self.busy.eq(sending | (nbytes != 0) | (nwords != 0))
        return m
