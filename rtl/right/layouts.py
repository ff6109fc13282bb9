"""Stream payloads, the config address map and the packed word formats of
the right core. sw_model/right_stream.py packs the same bits for the host."""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, enum

ID_WORD = 0x48454D52   # "HEMR": read from register 0


class InKind(enum.Enum, shape=1):
    EVENT = 0   # an input spike on axon `axon`, delivered in the current step
    TICK = 1    # close the step: update every neuron, emit spikes, then done


class Region(enum.IntEnum):
    """Config address = region << 20 | offset (word addresses, 32-bit data)."""
    REGS = 0x0     # offset: Reg
    PTR = 0x1      # offset: axon; data: base row [15:0], row count [31:16]
    SYN = 0x2      # offset: row << 4 | lane; data: weight [7:0], group [19:8], valid [31]
    PARAM0 = 0x3   # offset: group << 4 | lane; du [11:0], dv [23:12], bias_exp [26:24], refractory [30:27]
    PARAM1 = 0x4   # offset: group << 4 | lane; vth [16:0], bias_mant [29:17] (two's complement)
    U = 0x5        # offset: group << 4 | lane; u, 25-bit signed (read sign-extended)
    V = 0x6        # v, 24-bit signed
    REF = 0x7      # refractory counter, 4 bits
    ACC = 0x8      # this step's synaptic accumulator, 24-bit signed


class Reg(enum.IntEnum):
    ID = 0                # ro: ID_WORD
    WEXP = 1              # rw: weight exponent, 3 bits
    ERRORS = 2            # ro: input events dropped (axon >= axons), saturating
    CFG_ERRORS = 3        # ro: config accesses to unmapped addresses, saturating
    STEPS = 4             # ro: time steps completed
    SOPS = 5              # ro: synaptic operations performed
    INTEGRATE_CYCLES = 6  # ro: cycles with the event pipeline busy
    UPDATE_CYCLES = 7     # ro: cycles from tick to the last neuron written back
    SHAPE = 8             # ro: neurons [15:0], lanes [20:16]
    GROUPS = 9            # rw: neuron groups the update walks (0..groups, larger values clamp;
                          # reset: all); neurons past them keep their state and never spike


REGION_SHIFT = 20
LANE_BITS = 4   # lane field of per-neuron and synapse offsets (lanes <= 16)


class RightLayouts:
    def __init__(self, cfg):
        self.cfg = cfg
        self.group_bits = max(1, (cfg.groups - 1).bit_length())
        #: input stream: events and ticks, in step order
        self.inp = data.StructLayout({"kind": InKind, "axon": unsigned(16)})
        #: output stream: spiking neuron ids (increasing), then a `done` beat
        self.spike = data.StructLayout({"neuron": unsigned(16), "done": unsigned(1)})
        #: config/debug requests; reads answer on `o_cfg`, writes do not
        self.cfg_req = data.StructLayout({"write": unsigned(1), "addr": unsigned(24), "data": unsigned(32)})
        self.cfg_resp = unsigned(32)
        #: one synapse-memory entry (one lane of a row)
        self.syn_entry = data.StructLayout({
            "weight": signed(8), "group": unsigned(self.group_bits), "valid": unsigned(1)})
        self.param0 = data.StructLayout({
            "du": unsigned(12), "dv": unsigned(12), "bias_exp": unsigned(3), "refractory": unsigned(4)})
        self.param1 = data.StructLayout({"vth": unsigned(17), "bias_mant": signed(13)})
        self.ptr = data.StructLayout({"base": unsigned(16), "rows": unsigned(16)})
