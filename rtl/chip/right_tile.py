"""A right tile: a right core with a rate encoder on its input, a spike
counter and an output table on its output, behind a tile port (protocol and
address map: sw_model/chip_map.py, ``RightBlock`` / ``RightReg``).

What arrives:

* ``CONFIG_WRITE`` / ``WEIGHTS`` / ``CONFIG_READ``: bus accesses. Block
  ``CORE`` goes to the core's config port (offset [23:0]); ``TILE_REGS`` are
  the tile's registers; ``OUT_PTR`` / ``OUT_DEST`` are the output table.
  Every read is answered with exactly one word, in order; refused accesses
  (unmapped, or a write to a read-only register) read 0 and count in
  ``ERRORS``.
* ``ACTIVATION``: the int8 vector the rate encoder turns into spikes; loading
  it restarts the encoder's accumulators.
* ``SPIKE``: an axon of the core, fired by some tile in the previous step.

Time steps. The tile is in phase OPEN between steps: spikes from the network
wait in the spike-in FIFO and enter the core as EVENTs. A ``tick`` (from the
step controller, which ticks only when every tile is idle and the network is
empty) starts phase STEP: one step request to the encoder; ENC: its events
enter the core, and its end beat becomes the core's TICK; back to OPEN.
Spikes that arrive during STEP/ENC (other tiles may already be in their
update) wait in the FIFO, and the core takes them only after its TICK, so
they land in the next step. Step t thus integrates the encoder's raster[t]
plus the spikes emitted in step t - 1, as in the golden model.

The core's spikes go to the spike counter (when ``WINDOW`` != 0; its count
vectors leave as ACTIVATION packets to ``COUNT_DEST``) and into the spike
buffer. The output-table walker takes ids from the buffer and sends one
SPIKE packet per ``OUT_DEST`` entry of the neuron (``OUT_PTR[n]`` = base,
count), about one per cycle while the network takes them.

Why the spike buffer: the core must never wait on the network. Spikes this
tile sends may come back to it (recurrence) or go to tiles whose own spikes
come here; if the core's output stalled on a full network while the
network stalled on this tile's input, nothing would move. The buffer holds
every neuron of a step, so the core always finishes its step, and the
network can always drain into the spike-in FIFO and the core. (The counter
never stalls the core either: it sends its vector after the last step of a
window, and the controller does not tick again until it is done.)

``busy`` is high in every cycle the tile holds work that will later send a
packet or change the core's state; each hand-over raises the receiver's
flag on the same edge, so there is no idle-looking cycle in between.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from sw_model.chip_map import BLOCK_SHIFT, NodeKind, RightBlock, RightReg

from ..bridges import RateEncoder, SpikeCounter
from ..callosum.layouts import PacketType, link_layout
from ..callosum.ni import tx_word
from ..memattrs import no_collision
from ..common import cmp
from ..right.core import RightCore
from ..common.fifo import LeanFIFO
from ..right.layouts import InKind
from .link_slice import link_slice
from .tile_port import TilePort
from .vector_tx import VectorSender

OUT_PTR = data.StructLayout({"base": unsigned(16), "count": unsigned(16)})
OUT_DEST = data.StructLayout({"x": unsigned(3), "y": unsigned(3), "axon": unsigned(13)})
CORE_SPAN = 1 << 24           # CORE block offsets that reach the core
SPIKE_IN_DEPTH = 16

ACCEPTS = ["CONFIG_WRITE", "WEIGHTS", "CONFIG_READ", "ACTIVATION", "SPIKE"]


def _stat_inc(m, counter, cond):
    # A statistics counter: 32 bits saturate, narrower ones
    # (chip.counter_bits) wrap.
    if len(counter) < 32:
        with m.If(cond):
            m.d.sync += counter.eq(counter + 1)
    else:
        _sat_inc(m, counter, cond)


def _sat_inc(m, counter, cond):
    # Saturation from the incrementer's carry out, not a compare with all
    # ones: the carry chain makes it anyway.
    inc = Signal(len(counter) + 1, name=f"{counter.name}_inc")
    m.d.comb += inc.eq(counter + 1)
    with m.If(cond & ~inc[-1]):
        m.d.sync += counter.eq(inc)


class RightTile(wiring.Component):
    """The right tile at node (x, y) of a :class:`rtl.config.HemiConfig`.

    ``i_flit`` / ``o_flit`` attach to the router's local port. ``tick`` is
    the step controller's one-cycle pulse; it is taken only in phase OPEN
    (the controller ticks only while ``busy`` is low, which implies OPEN).
    Set ``WINDOW`` and ``COUNT_N`` between windows, not within one.
    """

    def __init__(self, cfg, x, y):
        if cfg.callosum.flit_width < 32:
            self._MustUse__silence = True
            raise ValueError(f"RightTile: flit_width = {cfg.callosum.flit_width}: the chip needs at least 32")
        self.cfg, self.x, self.y = cfg, x, y
        fw = cfg.callosum.flit_width
        super().__init__({
            "i_flit": In(stream.Signature(link_layout(fw))),
            "o_flit": Out(stream.Signature(link_layout(fw))),
            "tick": In(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        rc = self.cfg.right
        N, E = rc.neurons, rc.output_entries
        id_bits = max(1, (N - 1).bit_length())

        m.submodules.port = port = TilePort(self.cfg.callosum, self.x, self.y, ACCEPTS, senders=2,
                                            slices=self.cfg.chip.link_slices)
        m.submodules.core = core = RightCore(rc, self.cfg.chip.counter_bits)
        m.submodules.enc = enc = RateEncoder(rc.axons)
        m.submodules.counter = counter = SpikeCounter(N)
        m.submodules.vec = vec = VectorSender(self.cfg.callosum.flit_width)
        # Spikes in as the axon's bits below the core's axon count and one
        # bit for any above: an axon past the core still reads as one (the
        # core drops and counts it), with fewer bits to carry and multiplex.
        axon_bits = (rc.axons - 1).bit_length()
        m.submodules.spike_in = spike_in = LeanFIFO(width=axon_bits + 1, depth=SPIKE_IN_DEPTH)
        # Every neuron of one step fits (the +1 covers the output register's
        # fill latency), so the core's output is never refused. (LeanFIFO:
        # SyncFIFOBuffered's behaviour, fewer logic cells; both.)
        m.submodules.spike_buf = buf = LeanFIFO(width=id_bits, depth=N + 1)
        # Neither table is read and written in one cycle (see the walker):
        # marked so (rtl.memattrs), for the FPGA flow.
        m.submodules.out_ptr = out_ptr = Memory(shape=OUT_PTR, depth=N, init=[],
                                                attrs=no_collision(platform))
        m.submodules.out_dest = out_dest = Memory(shape=OUT_DEST, depth=E, init=[],
                                                  attrs=no_collision(platform))
        # One read port per table, shared by the walker and bus reads (a
        # second read port would make yosys duplicate the memory: 4 more
        # block RAMs on the iCE40). A bus read never waits for the walker
        # (which may be waiting for the network, and the network for this
        # tile's input): it takes the port for a cycle, and the walker puts
        # back what it held there (see the walker).
        ptr_wp, ptr_rp = out_ptr.write_port(), out_ptr.read_port()
        dest_wp, dest_rp = out_dest.write_port(), out_dest.read_port()

        wiring.connect(m, wiring.flipped(self.i_flit), port.i_flit)
        wiring.connect(m, port.o_flit, wiring.flipped(self.o_flit))

        # ---- registers -------------------------------------------------------
        window = Signal(8)
        count_dest = Signal(6)
        count_n = Signal(16)
        tile_errors = Signal(16)      # refused bus accesses, table entries past OUT_DEST
        # Statistics counters, chip.counter_bits wide: narrower ones wrap
        # (the host takes differences modulo their width), 32-bit ones
        # saturate.
        CB = self.cfg.chip.counter_bits
        spikes_sent = Signal(CB)
        spikes_received = Signal(CB)
        errors = Signal(17)
        m.d.comb += errors.eq(port.errors + tile_errors)

        # ---- bus ---------------------------------------------------------------
        bus = port.o_bus
        req = bus.payload
        block = req.addr[BLOCK_SHIFT:]
        offset = req.addr[:BLOCK_SHIFT]
        for_core = (block == RightBlock.CORE) & cmp.lt(offset, CORE_SPAN)
        rvalid = Signal()             # a local read's answer is on i_rdata
        core_rd = Signal()            # a core read's answer is awaited from o_cfg
        tbl_rd = Signal()             # a table read's data is on its read port
        tbl_ptr = Signal()            # ... of OUT_PTR (else OUT_DEST)
        rdata = Signal(32)
        free = ~rvalid & ~core_rd & ~tbl_rd    # one read in flight at a time keeps answers in order

        m.d.comb += [
            core.i_cfg.valid.eq(bus.valid & free & for_core),
            core.i_cfg.payload.write.eq(req.write),
            core.i_cfg.payload.addr.eq(offset[:24]),
            core.i_cfg.payload.data.eq(req.data),
            bus.ready.eq(free & Mux(for_core, core.i_cfg.ready, 1)),
        ]
        take = bus.valid & bus.ready
        local = take & ~for_core
        rd = take & ~req.write
        with m.If(rd & for_core):
            m.d.sync += core_rd.eq(1)

        is_reg = block == RightBlock.TILE_REGS
        is_ptr = (block == RightBlock.OUT_PTR) & cmp.lt(offset, N)
        is_dest = (block == RightBlock.OUT_DEST) & cmp.lt(offset, E)
        reg_mapped = is_reg & cmp.le(offset, max(RightReg))
        reg_writable = is_reg & ((offset == RightReg.WINDOW) | (offset == RightReg.COUNT_DEST)
                                 | (offset == RightReg.COUNT_N))
        mapped = reg_mapped | is_ptr | is_dest
        writable = reg_writable | is_ptr | is_dest
        refused = local & Mux(req.write, ~writable, ~mapped)
        wr = local & req.write & writable

        with m.If(wr & is_reg):
            with m.Switch(offset):
                with m.Case(RightReg.WINDOW):
                    m.d.sync += window.eq(req.data[:8])
                with m.Case(RightReg.COUNT_DEST):
                    m.d.sync += count_dest.eq(req.data[:6])
                with m.Case(RightReg.COUNT_N):
                    m.d.sync += count_n.eq(req.data[:16])
        m.d.comb += [
            ptr_wp.addr.eq(offset), ptr_wp.data.eq(req.data), ptr_wp.en.eq(wr & is_ptr),
            dest_wp.addr.eq(offset), dest_wp.data.eq(req.data[:19]), dest_wp.en.eq(wr & is_dest),
        ]
        # Bus reads of the tables: they take the read port this cycle (the
        # walker's port use below), and the data is copied into rdata the
        # next, since the walker may use the port again right after.
        bus_ptr_rd = local & rd & is_ptr
        bus_dest_rd = local & rd & is_dest
        # A bus write of a table keeps the walker off its read port for the
        # cycle as well, so no table is ever read and written in one cycle:
        # nothing depends on a block RAM's read-during-write behaviour.
        bus_ptr_wr, bus_dest_wr = wr & is_ptr, wr & is_dest
        reg_values = {
            RightReg.KIND: int(NodeKind.RIGHT), RightReg.WINDOW: window, RightReg.COUNT_DEST: count_dest,
            RightReg.COUNT_N: count_n, RightReg.ERRORS: Mux(errors[16], 0xFFFF, errors[:16]),
            RightReg.SPIKES_SENT: spikes_sent, RightReg.SPIKES_RECEIVED: spikes_received,
        }
        with m.If(local & rd):
            m.d.sync += [rvalid.eq(~is_ptr & ~is_dest), tbl_rd.eq(is_ptr | is_dest), tbl_ptr.eq(is_ptr),
                         rdata.eq(0)]
            # Mapped registers differ in their low offset bits.
            with m.If(reg_mapped):
                with m.Switch(offset[:max(RightReg).bit_length()]):
                    for k, val in reg_values.items():
                        with m.Case(k):
                            m.d.sync += rdata.eq(val)
        with m.If(tbl_rd):
            m.d.sync += [rvalid.eq(1), tbl_rd.eq(0),
                         rdata.eq(Mux(tbl_ptr, ptr_rp.data.as_value(), dest_rp.data.as_value()))]

        with m.If(core_rd):
            m.d.comb += [port.i_rdata.valid.eq(core.o_cfg.valid), port.i_rdata.payload.eq(core.o_cfg.payload),
                         core.o_cfg.ready.eq(port.i_rdata.ready)]
            with m.If(core.o_cfg.valid & port.i_rdata.ready):
                m.d.sync += core_rd.eq(0)
        with m.Else():
            m.d.comb += [port.i_rdata.valid.eq(rvalid), port.i_rdata.payload.eq(rdata)]
            with m.If(rvalid & port.i_rdata.ready):
                m.d.sync += rvalid.eq(0)

        # ---- inputs: activation vector, spikes ---------------------------------
        wiring.connect(m, port.o_act, enc.i_vec)
        axon = port.o_spike.payload.axon
        m.d.comb += [spike_in.w_en.eq(port.o_spike.valid),
                     spike_in.w_data.eq(Cat(axon[:axon_bits], axon[axon_bits:].any())),
                     port.o_spike.ready.eq(spike_in.w_rdy)]
        _stat_inc(m, spikes_received, port.o_spike.valid & port.o_spike.ready)

        # ---- time steps ----------------------------------------------------------
        OPEN, STEP, ENC = range(3)
        phase = Signal(range(3))
        # Events reach the core through a register slice: the encoder's
        # memory read and the spike FIFO's output are not one combinational
        # path with the core's synapse pointer lookup. Order is kept, so a
        # spike taken after the TICK still lands in the next step. (A plain
        # wire with chip.link_slices = false.)
        m.submodules.cin_slice = cin_slice = link_slice(core.i_in.payload.shape(), self.cfg.chip.link_slices)
        wiring.connect(m, cin_slice.o, core.i_in)
        cin = cin_slice.i
        with m.Switch(phase):
            with m.Case(OPEN):
                # Spikes of the previous step; a tick while not OPEN is a
                # controller error and is ignored.
                m.d.comb += [cin.valid.eq(spike_in.r_rdy), cin.payload.kind.eq(InKind.EVENT),
                             cin.payload.axon.eq(spike_in.r_data), spike_in.r_en.eq(cin.ready)]
                with m.If(self.tick):
                    m.d.sync += phase.eq(STEP)
            with m.Case(STEP):
                m.d.comb += enc.i_step.valid.eq(1)
                with m.If(enc.i_step.ready):
                    m.d.sync += phase.eq(ENC)
            with m.Case(ENC):
                ev = enc.o_event
                m.d.comb += [cin.valid.eq(ev.valid), cin.payload.axon.eq(ev.payload.axon),
                             ev.ready.eq(cin.ready)]
                with m.If(ev.payload.end):
                    m.d.comb += cin.payload.kind.eq(InKind.TICK)
                    with m.If(ev.valid & cin.ready):
                        m.d.sync += phase.eq(OPEN)
                with m.Else():
                    m.d.comb += cin.payload.kind.eq(InKind.EVENT)

        # ---- core output: counter and spike buffer ---------------------------------
        sp = core.o_spike
        counting = window != 0
        cnt_ok = ~counting | counter.i_spike.ready
        buf_ok = sp.payload.done | buf.w_rdy
        m.d.comb += [
            sp.ready.eq(cnt_ok & buf_ok),
            counter.i_spike.valid.eq(sp.valid & counting & buf_ok),
            counter.i_spike.payload.eq(sp.payload),
            counter.window.eq(window), counter.size.eq(count_n),
            buf.w_en.eq(sp.valid & ~sp.payload.done & cnt_ok),
            buf.w_data.eq(sp.payload.neuron),
            vec.dst_x.eq(count_dest[:3]), vec.dst_y.eq(count_dest[3:6]),
        ]
        wiring.connect(m, counter.o_vec, vec.i_elem)
        wiring.connect(m, vec.o_tx, port.tx(0))

        # ---- output table walker ---------------------------------------------------
        # pop id -> OUT_PTR read -> (base, count) -> OUT_DEST read per entry
        # -> SPIKE packet; each stage moves while the next can take it.
        #
        # A bus read of a table takes its read port for one cycle (the walker
        # does not read in that cycle) and overwrites the port's data, which
        # the walker may still hold:
        # * OUT_PTR: the popped neuron's (base, count), until loaded. The
        #   walker reads its row again the next cycle (p_again, from p_row)
        #   and does not load until it is back.
        # * OUT_DEST: the entry offered on tx, which must not change or
        #   drop until taken; it is copied into d_hold in the bus read's
        #   cycle (its data is still on the port then) and offered from there.
        tx = port.tx(1)
        p_valid = Signal()            # ptr_rp.data holds the popped neuron's (base, count)
        p_again = Signal()            # ... once it has been read again (a bus read took the port)
        p_row = Signal(id_bits)       # the popped neuron
        cur = Signal(16)              # next OUT_DEST entry to read
        left = Signal(16)             # entries of the current neuron still to read
        d_valid = Signal()            # an entry to send: on dest_rp.data, or in d_hold if d_held
        d_held = Signal()
        d_hold = Signal(OUT_DEST)
        d_entry = Signal(OUT_DEST)
        advance = (~d_valid | tx.ready) & ~bus_dest_rd & ~bus_dest_wr
        issue = (left != 0) & advance
        in_table = cmp.lt(cur, E)
        m.d.comb += [dest_rp.addr.eq(Mux(bus_dest_rd, offset, cur)), dest_rp.en.eq(advance | bus_dest_rd),
                     d_entry.eq(Mux(d_held, d_hold, dest_rp.data))]
        with m.If(advance):
            m.d.sync += [d_valid.eq(issue & in_table), d_held.eq(0)]
        with m.Elif(bus_dest_rd | bus_dest_wr):
            with m.If(tx.ready):
                # The entry leaves in the bus access's cycle: nothing to keep.
                m.d.sync += [d_valid.eq(0), d_held.eq(0)]
            with m.Elif(bus_dest_rd & d_valid & ~d_held):
                # (A write leaves the port's data as it is.)
                m.d.sync += [d_hold.eq(dest_rp.data), d_held.eq(1)]
        with m.If(issue):
            m.d.sync += [cur.eq(cur + 1), left.eq(left - 1)]
        load = p_valid & ~p_again & ((left == 0) | ((left == 1) & issue))
        with m.If(load):
            m.d.sync += [cur.eq(ptr_rp.data.base), left.eq(ptr_rp.data.count)]
        pop = buf.r_rdy & (~p_valid | load) & ~bus_ptr_rd & ~bus_ptr_wr & ~p_again
        m.d.comb += [buf.r_en.eq(pop),
                     ptr_rp.addr.eq(Mux(bus_ptr_rd, offset, Mux(p_again, p_row, buf.r_data))),
                     ptr_rp.en.eq(pop | p_again | bus_ptr_rd)]
        with m.If(pop):
            m.d.sync += [p_valid.eq(1), p_row.eq(buf.r_data)]
        with m.Elif(load):
            m.d.sync += p_valid.eq(0)
        # Bus reads are one at a time and a table read's next cycle is its
        # copy into rdata, so p_again never meets another bus read.
        m.d.sync += p_again.eq(bus_ptr_rd & p_valid & ~load)
        m.d.comb += [
            tx.valid.eq(d_valid),
            tx.payload.eq(tx_word(self.cfg.callosum.flit_width, d_entry.x, d_entry.y, PacketType.SPIKE, 0,
                                  d_entry.axon)),
        ]
        _stat_inc(m, spikes_sent, tx.valid & tx.ready)
        # Refused accesses and table entries past the end of OUT_DEST (skipped).
        err_inc = Signal(2)
        m.d.comb += err_inc.eq(refused + (issue & ~in_table))
        err_sum = Signal(17)          # at most 0xFFFF + 2: bit 16 is the overflow
        m.d.comb += err_sum.eq(tile_errors + err_inc)
        m.d.sync += tile_errors.eq(Mux(err_sum[16], 0xFFFF, err_sum[:16]))

        # (The encoder works only between a step's i_step beat and its end
        # beat, all of it in STEP and ENC: phase != OPEN covers it. Its event
        # valid, a block RAM read and an adder deep, is left out of the OR
        # that crosses the die to the step controller.)
        m.d.comb += self.busy.eq(
            port.busy | vec.busy | core.busy | counter.busy | (phase != OPEN)
            | spike_in.nonempty | buf.nonempty
            | p_valid | (left != 0) | d_valid
            | cin_slice.busy | rvalid | tbl_rd | core_rd)
        return m
