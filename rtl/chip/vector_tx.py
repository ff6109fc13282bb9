"""Int8 vector sender: a stream of elements becomes ACTIVATION packets.

Elements arrive one per beat on ``i_elem`` (``last`` on the final one); four
fill a word (element 4i + j in bits 8j..8j+7, the last word zero padded);
up to 15 words make a packet to the node ``dst_x``, ``dst_y``. A packet is
sent once it is full or the vector has ended (its head then carries
``ACT_LAST``), so the head's length is known before it leaves. Elements wait
while a packet is being sent.

The packet's words wait in a buffer of 16-bit halves (word w's low half at
2w, its high half at 2w + 1): 30 x 16 bits is one iCE40 block RAM, where
15 x 32 took two. It is not a FIFO: a packet is written whole, then read
whole while elements wait, so each element is written straight into its
byte lane (no byte waits for its neighbour, no FIFO pointers or output
register); the last word's unwritten bytes are written as zeros (the rest
of its half with the last element, the other half the next cycle). A word
is read as two halves, the low one kept in a register while the high one
is read, so a word leaves every other cycle, still faster than elements
arrive (four cycles a word).
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_model.chip_map import ACT_LAST, MAX_WORDS

from ..callosum.layouts import HEADER_BITS, PacketType
from ..callosum.ni import tx_layout, tx_word
from ..memattrs import no_collision

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
        m.submodules.halves = halves = Memory(shape=16, depth=2 * MAX_WORDS, init=[],
                                              attrs=no_collision(platform))
        wp = halves.write_port(granularity=8)
        rp = halves.read_port()
        nbytes = Signal(2)             # bytes of the word being filled
        nwords = Signal(4)             # words of the packet being filled
        pad = Signal()                 # the last word's high half (zeros) is still to be written
        sending = Signal()
        head_sent = Signal()
        final = Signal()               # the packet being sent ends the vector
        rd_word = Signal(4)            # the word whose halves are read
        # 0: no read yet; 1: the low half arrives (a read of the high half
        # goes out); 2: the high half is there, the word is on o_tx.
        phase = Signal(2)
        low = Signal(16)
        rd_en = Signal()               # (a read port's own `en` is 1 unless driven)

        e = self.i_elem.payload
        m.d.comb += self.i_elem.ready.eq(~sending)
        take = self.i_elem.valid & self.i_elem.ready
        byte = e.value.as_unsigned()
        # An element goes to byte lane nbytes[0] of half nbytes[1]; the last
        # one also zeros lane 1 of its half when it lands in lane 0, and
        # leaves a high half it did not reach to `pad` (the next cycle: one
        # write port; elements wait while the packet is sent, so that cycle
        # writes nothing else). No half is read in a cycle that writes it
        # (the memory is marked so, for the FPGA flow): the first read of a
        # packet is issued after its last write, the pad's included.
        word_end = take & ((nbytes == 3) | e.last)
        m.d.comb += [
            wp.addr.eq(Mux(pad, Cat(1, nwords - 1), Cat(nbytes[1], nwords))),
            wp.data.eq(Mux(pad, 0, Cat(byte, Mux(nbytes[0], byte, 0)))),
            wp.en[0].eq(pad | (take & ~nbytes[0])),
            wp.en[1].eq(pad | (take & (nbytes[0] | e.last))),
        ]
        m.d.sync += pad.eq(take & e.last & ~nbytes[1])
        with m.If(take):
            m.d.sync += nbytes.eq(nbytes + 1)
        with m.If(word_end):
            m.d.sync += [nbytes.eq(0), nwords.eq(nwords + 1)]
            with m.If((nwords == MAX_WORDS - 1) | e.last):
                m.d.sync += [sending.eq(1), head_sent.eq(0), final.eq(e.last)]

        # The head's length is the packet's word count, nwords while it is
        # sent (only the head's length counts: the words carry it as well).
        # A beat's data is the word read whatever the phase, but for the
        # head payload's bits (the low flit_width - 19) on the head: the
        # network interface looks at no other bit of a head, and a payload
        # means something only with its valid, so the other bits need no
        # gate each.
        tx_data = Signal(32)
        head_phase = sending & ~head_sent
        hp = min(max(self.flit_width - HEADER_BITS, 0), 32)
        word = Cat(low, rp.data)
        m.d.comb += tx_data.eq(Cat(Mux(head_phase, Mux(final, ACT_LAST, 0), word)[:hp], word[hp:]))
        m.d.comb += [self.o_tx.payload.eq(tx_word(self.flit_width, self.dst_x, self.dst_y, PacketType.ACTIVATION,
                                                  nwords, tx_data)),
                     rp.addr.eq(Cat(phase == 1, rd_word)), rp.en.eq(rd_en)]
        # The reads of the first word overlap the head.
        with m.If(sending & ~pad & (phase == 0)):
            m.d.comb += rd_en.eq(1)
            m.d.sync += phase.eq(1)
        with m.If(phase == 1):
            m.d.comb += rd_en.eq(1)
            m.d.sync += [low.eq(rp.data), rd_word.eq(rd_word + 1), phase.eq(2)]
        with m.If(head_phase):
            m.d.comb += self.o_tx.valid.eq(1)
            with m.If(self.o_tx.ready):
                m.d.sync += head_sent.eq(1)
        with m.Elif(phase == 2):
            m.d.comb += self.o_tx.valid.eq(1)
            with m.If(self.o_tx.ready):
                with m.If(rd_word == nwords):      # (rd_word counts the words read)
                    m.d.sync += [sending.eq(0), nwords.eq(0), rd_word.eq(0), phase.eq(0)]
                with m.Else():
                    # The next word's low half, read as this word leaves.
                    m.d.comb += rd_en.eq(1)
                    m.d.sync += phase.eq(1)
        m.d.comb += self.busy.eq(sending | (nbytes != 0) | (nwords != 0))
        return m
