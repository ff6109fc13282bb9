"""A tile's port onto the callosum: network interface, packet decoder and
message arbiter (packet conventions: sw_model/chip_map.py).

Arriving packets become simple streams for the tile:

* ``CONFIG_WRITE`` and ``WEIGHTS`` become writes on ``o_bus``;
* ``CONFIG_READ`` becomes reads on ``o_bus``, each answered by the tile with
  one beat on ``i_rdata`` (in order); the port sends them back to the
  packet's source as one ``READ_RESPONSE`` of the same length, whose head
  leaves before the first read is issued (each address word goes through
  the address register first, a cycle per read: ``o_bus``'s address never
  needs a multiplexer);
* ``ACTIVATION`` words become int8 elements on ``o_act``, four per word,
  ``last`` on the final element of the packet marked ``ACT_LAST``;
* ``SPIKE`` heads become axons on ``o_spike``.

A packet of a type the tile does not take (``accepts``), or with a word
count wrong for its type, is consumed whole and counted in ``errors``.

The tile's own messages enter on ``i_tx_0 .. i_tx_<senders-1>`` and share
the network interface with the read responses (which go first), one whole
message at a time. ``busy`` is high while a packet is being taken apart or a
message is leaving, so the step controller never sees a half-handled packet
as quiet.

The decoder reads a packet's header on its head beat only (its state says
what the words are), so the network interface keeps no copy of it
(``repeat_header=False``), and every stream's payload is driven whatever
the state: it means something only with its ``valid``.

``o_bus``, ``o_act`` and ``o_spike`` leave through register slices, so the
packet decoder (fed by the network interface) and the tile logic behind
each stream (a core's config port, the rate encoder, the spike FIFO) are not
one combinational path. With ``slices=False`` (config ``chip.link_slices =
false``) every slice of the port is a plain wire instead.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw_model.chip_map import ACT_LAST

from ..callosum.layouts import HEADER_BITS, PacketType, head_layout, link_layout
from ..callosum.ni import NetworkInterface, tx_layout, tx_word
from .arbiter import MessageArbiter
from .link_slice import link_slice
from .vector_tx import ELEMENT

BUS = data.StructLayout({"write": unsigned(1), "addr": unsigned(32), "data": unsigned(32)})
SPIKE_IN = data.StructLayout({"axon": unsigned(16)})


def _sat_inc(m, counter, cond):
    with m.If(cond & (counter != (1 << len(counter)) - 1)):
        m.d.sync += counter.eq(counter + 1)


class TilePort(wiring.Component):
    def __init__(self, cfg, x, y, accepts, senders, slices=True):
        self.cfg, self.x, self.y = cfg, x, y
        self.slices = slices
        self.accepts = frozenset(PacketType[a] if isinstance(a, str) else PacketType(a) for a in accepts)
        self.senders = senders
        fw = cfg.flit_width
        members = {
            "i_flit": In(stream.Signature(link_layout(fw))),
            "o_flit": Out(stream.Signature(link_layout(fw))),
            "o_bus": Out(stream.Signature(BUS)),
            "i_rdata": In(stream.Signature(unsigned(32))),
            "o_act": Out(stream.Signature(ELEMENT)),
            "o_spike": Out(stream.Signature(SPIKE_IN)),
            "busy": Out(1),
            "errors": Out(16),
        }
        for k in range(senders):
            members[f"i_tx_{k}"] = In(stream.Signature(tx_layout(fw)))
        super().__init__(members)

    def tx(self, k):
        return getattr(self, f"i_tx_{k}")

    def elaborate(self, platform):
        m = Module()
        fw = self.cfg.flit_width
        # The decoder reads the header on the head beat only (its state says
        # what the words are), so the interface holds no copy of it.
        m.submodules.ni = ni = NetworkInterface(self.cfg, self.x, self.y, repeat_header=False)
        m.submodules.arb = arb = MessageArbiter(fw, 1 + self.senders)
        wiring.connect(m, wiring.flipped(self.i_flit), ni.i_flit)
        wiring.connect(m, ni.o_flit, wiring.flipped(self.o_flit))
        # The arbiter's grant (fed by the tile's senders) and the network
        # interface's header packing are not one path either.
        m.submodules.tx_slice = tx_slice = link_slice(tx_layout(fw), self.slices)
        wiring.connect(m, arb.o, tx_slice.i)
        wiring.connect(m, tx_slice.o, ni.i_tx)
        for k in range(self.senders):
            wiring.connect(m, wiring.flipped(self.tx(k)), arb.input(k + 1))
        # Read responses reach the arbiter through a slice too: the decoder's
        # state (behind the network interface) does not decide the arbiter's
        # grant, and so the tile senders' ready, in the same cycle.
        m.submodules.resp_slice = resp_slice = link_slice(tx_layout(fw), self.slices)
        wiring.connect(m, resp_slice.o, arb.input(0))
        resp = resp_slice.i

        # The decoder drives the slices' inputs; the tile sees their outputs.
        slices = {}
        for name, shape in (("o_bus", BUS), ("o_act", ELEMENT), ("o_spike", SPIKE_IN)):
            m.submodules[name + "_slice"] = sl = link_slice(shape, self.slices)
            wiring.connect(m, sl.o, wiring.flipped(getattr(self, name)))
            slices[name] = sl
        o_bus, o_act, o_spike = (slices[n].i for n in ("o_bus", "o_act", "o_spike"))

        rx = ni.o_rx.payload
        head_payload = data.View(head_layout(fw), rx.data).payload   # (head beat)
        errors = Signal(16)
        m.d.comb += self.errors.eq(errors)

        # Packet state, set by the head beat.
        IDLE, WRITE, BURST, READ, ACT, DROP = range(6)
        state = Signal(range(6))
        have_addr = Signal()           # WRITE: the pair's address word has been taken; READ: addr holds the word
        addr = Signal(32)
        act_last = Signal()
        byte = Signal(2)
        rd_issued = Signal()

        def accepts(t):
            return t in self.accepts

        length = rx.length
        ok = Signal()
        with m.Switch(rx.ptype):
            for t in PacketType:
                with m.Case(t):
                    rule = {
                        PacketType.CONFIG_WRITE: (length >= 2) & ~length[0],
                        PacketType.WEIGHTS: length >= 2,
                        PacketType.CONFIG_READ: length >= 1,
                        PacketType.ACTIVATION: length >= 1,
                        PacketType.SPIKE: length == 0,
                    }.get(t)
                    if accepts(t) and rule is not None:
                        m.d.comb += ok.eq(rule)

        head = ni.o_rx.valid & rx.first
        word = ni.o_rx.valid & ~rx.first
        # Payloads are driven whatever the state (each means something only
        # with its valid): one multiplexer per field at most, rather than a
        # chain of them down the decoder's branches with 0 at the end.
        # The response's head payload (its low data bits on the head beat)
        # is 0; every later beat is a read's answer.
        rdata = self.i_rdata.payload
        hp = min(fw - HEADER_BITS, 32)
        resp_data = Cat(Mux(rx.first, 0, rdata[:hp]), rdata[hp:])
        m.d.comb += resp.payload.eq(tx_word(fw, rx.src_x, rx.src_y, PacketType.READ_RESPONSE, rx.length,
                                            resp_data))
        bus = o_bus.payload
        wd = rx.data[:32]
        m.d.comb += [bus.write.eq(state != READ), bus.addr.eq(addr), bus.data.eq(wd),
                     o_act.payload.value.eq(wd.word_select(byte, 8).as_signed()),
                     o_act.payload.last.eq(act_last & rx.last & (byte == 3)),
                     o_spike.payload.axon.eq(head_payload[:13])]

        # ---- heads -----------------------------------------------------------
        with m.If(head):
            with m.If(~ok):
                m.d.comb += ni.o_rx.ready.eq(1)
                _sat_inc(m, errors, 1)
                with m.If(~rx.last):
                    m.d.sync += state.eq(DROP)
            with m.Elif(rx.ptype == PacketType.SPIKE):
                m.d.comb += [o_spike.valid.eq(1), ni.o_rx.ready.eq(o_spike.ready)]
            with m.Elif(rx.ptype == PacketType.CONFIG_READ):
                m.d.comb += [resp.valid.eq(1), ni.o_rx.ready.eq(resp.ready)]
                with m.If(resp.ready):
                    m.d.sync += [state.eq(READ), rd_issued.eq(0), have_addr.eq(0)]
            with m.Else():
                m.d.comb += ni.o_rx.ready.eq(1)
                m.d.sync += [have_addr.eq(0), byte.eq(0), act_last.eq((head_payload & ACT_LAST).any())]
                with m.Switch(rx.ptype):
                    with m.Case(PacketType.CONFIG_WRITE):
                        m.d.sync += state.eq(WRITE)
                    with m.Case(PacketType.WEIGHTS):
                        m.d.sync += state.eq(BURST)
                    with m.Case(PacketType.ACTIVATION):
                        m.d.sync += state.eq(ACT)

        # ---- words -----------------------------------------------------------
        done = word & ni.o_rx.ready & rx.last
        with m.If(word):
            with m.Switch(state):
                with m.Case(WRITE, BURST):
                    with m.If(~have_addr):
                        m.d.comb += ni.o_rx.ready.eq(1)
                        m.d.sync += [addr.eq(wd), have_addr.eq(1)]
                    with m.Else():
                        m.d.comb += [o_bus.valid.eq(1), ni.o_rx.ready.eq(o_bus.ready)]
                        with m.If(o_bus.ready):
                            with m.If(state == WRITE):
                                m.d.sync += have_addr.eq(0)
                            with m.Else():
                                m.d.sync += addr.eq(addr + 1)
                with m.Case(READ):
                    # Load the address (the bus's address is always the
                    # register: no multiplexer in front of it, a cycle per
                    # read), issue the read, then pass its answer on and
                    # take the word.
                    with m.If(~have_addr):
                        m.d.sync += [addr.eq(wd), have_addr.eq(1)]
                    with m.Elif(~rd_issued):
                        m.d.comb += o_bus.valid.eq(1)
                        with m.If(o_bus.ready):
                            m.d.sync += rd_issued.eq(1)
                    with m.Else():
                        m.d.comb += [resp.valid.eq(self.i_rdata.valid), self.i_rdata.ready.eq(resp.ready),
                                     ni.o_rx.ready.eq(self.i_rdata.valid & resp.ready)]
                        with m.If(self.i_rdata.valid & resp.ready):
                            m.d.sync += [rd_issued.eq(0), have_addr.eq(0)]
                with m.Case(ACT):
                    m.d.comb += [o_act.valid.eq(1), ni.o_rx.ready.eq(o_act.ready & (byte == 3))]
                    with m.If(o_act.ready):
                        m.d.sync += byte.eq(byte + 1)
                with m.Default():   # DROP (IDLE cannot see a word: the NI frames packets)
                    m.d.comb += ni.o_rx.ready.eq(1)
        with m.If(done):
            m.d.sync += state.eq(IDLE)

        m.d.comb += self.busy.eq((state != IDLE) | ni.o_rx.valid | arb.busy | tx_slice.busy | resp_slice.busy
                                | slices["o_bus"].busy | slices["o_act"].busy | slices["o_spike"].busy)
        return m
