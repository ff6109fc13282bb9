"""PLLs for the boards: a parameter search per family and the primitive.

``ice40_pll(fin, fout)`` and ``ecp5_pll(fin, fout)`` return the divider
settings that give the exact output frequency (``PllSettings``), or raise
``ValueError`` naming the frequency when none does; the search follows the
vendors' ranges (the same ones icepll and ecppll use). ``PllDomain`` puts
the PLL on a board's input clock pin, drives the ``sync`` clock from it and
holds ``sync`` in reset until the PLL reports lock. ``direct_clock(family,
fin)`` is the setting without a PLL: ``sync`` runs straight from the pin
(for a clock the PLL cannot make, such as the iCE40's below 16 MHz).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import C, ClockDomain, ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer


@dataclass(frozen=True)
class PllSettings:
    family: str
    fin_hz: float
    fout_hz: float
    params: dict            # divider settings, primitive-specific
    direct: bool = False    # no PLL: the chip runs from the input clock

    @property
    def fout_mhz(self):
        return self.fout_hz / 1e6


def _exact(fout, target):
    return abs(fout - target) <= 1e-6 * target


def ice40_pll(fin_hz, fout_hz):
    """SB_PLL40 in SIMPLE feedback: fout = fin * (DIVF+1) / ((DIVR+1) * 2**DIVQ)."""
    if not (10e6 <= fin_hz <= 133e6 and 16e6 <= fout_hz <= 275e6):
        raise ValueError(f"no iCE40 PLL setting gives exactly {fout_hz / 1e6:g} MHz "
                         f"from {fin_hz / 1e6:g} MHz (input 10..133 MHz, output 16..275 MHz)")
    for divr in range(16):
        fpfd = fin_hz / (divr + 1)
        if not 10e6 <= fpfd <= 133e6:
            continue
        for divf in range(128):
            fvco = fpfd * (divf + 1)
            if not 533e6 <= fvco <= 1066e6:
                continue
            for divq in range(1, 7):
                if _exact(fvco / 2 ** divq, fout_hz):
                    # Loop filter range from the PFD frequency (iCE40 PLL guide).
                    filt = next(i for i, lim in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 1e12), 1)
                                if fpfd < lim)
                    return PllSettings("ice40", fin_hz, fout_hz,
                                       {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filt})
    raise ValueError(f"no iCE40 PLL setting gives exactly {fout_hz / 1e6:g} MHz "
                     f"from {fin_hz / 1e6:g} MHz")


def ecp5_pll(fin_hz, fout_hz):
    """EHXPLLL with CLKOP feedback: fout = fin / CLKI_DIV * CLKFB_DIV, VCO = fout * CLKOP_DIV.
    Of the exact settings, the one whose VCO is nearest 600 MHz (as ecppll)."""
    if not (8e6 <= fin_hz <= 400e6 and 10e6 <= fout_hz <= 400e6):
        raise ValueError(f"no ECP5 PLL setting gives exactly {fout_hz / 1e6:g} MHz "
                         f"from {fin_hz / 1e6:g} MHz (input 8..400 MHz, output 10..400 MHz)")
    best = None
    for clki in range(1, 129):
        fpfd = fin_hz / clki
        if not 3.125e6 <= fpfd <= 400e6:
            continue
        for clkfb in range(1, 81):
            f = fpfd * clkfb
            if not _exact(f, fout_hz):
                continue
            for clkop in range(1, 129):
                vco = f * clkop
                if 400e6 <= vco <= 800e6 and (best is None or abs(vco - 600e6) < best[0]):
                    best = (abs(vco - 600e6), {"CLKI_DIV": clki, "CLKFB_DIV": clkfb, "CLKOP_DIV": clkop})
    if best is not None:
        return PllSettings("ecp5", fin_hz, fout_hz, best[1])
    raise ValueError(f"no ECP5 PLL setting gives exactly {fout_hz / 1e6:g} MHz "
                     f"from {fin_hz / 1e6:g} MHz")


def direct_clock(family, fin_hz):
    """No PLL: ``sync`` is the board's input clock itself."""
    return PllSettings(family, fin_hz, fin_hz, {}, direct=True)


#: Cycles the direct clock holds ``sync`` in reset after configuration
#: (about 21 us at 12 MHz; the iCE40's block RAMs read zeros for the first
#: few microseconds, so Amaranth's own iCE40 reset waits 15 us).
POWER_ON_CYCLES = 256


def _ice40_instance(s, pin, clk_out, lock):
    p = s.params
    return Instance(
        "SB_PLL40_PAD",
        p_FEEDBACK_PATH="SIMPLE",
        p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"],
        i_PACKAGEPIN=pin, i_RESETB=1, i_BYPASS=0,
        o_PLLOUTGLOBAL=clk_out, o_LOCK=lock,
    )


def _ecp5_instance(s, pin, clk_out, lock):
    p = s.params
    return Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{s.fin_hz / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{s.fout_hz / 1e6:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
        a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
        p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP",
        p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
        p_CLKOP_DIV=p["CLKOP_DIV"], p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0,
        i_RST=0, i_STDBY=0, i_CLKI=pin, i_CLKFB=clk_out,
        i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
        i_PLLWAKESYNC=0, i_ENCLKOP=0,
        o_CLKOP=clk_out, o_LOCK=lock,
    )


class PllDomain(wiring.Component):
    """Drives the ``sync`` domain at ``settings.fout_hz`` from a board's
    clock pin; the domain itself is defined by the parent (it is the whole
    design's), which also gives the platform the clock constraint.

    ``pin`` is the clock input as the platform hands it out (a raw pin for
    the iCE40's SB_PLL40_PAD, a buffered input for the ECP5).
    """

    def __init__(self, settings: PllSettings, pin):
        self.settings, self.pin = settings, pin
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        lock = Signal()
        if self.settings.direct:
            if self.settings.family == "ice40":
                # The clock pad's global buffer (the pin is a GBIN pad).
                m.submodules.clk_gb = Instance("SB_GB_IO", p_PIN_TYPE=C(0b000001, 6),
                                               io_PACKAGE_PIN=self.pin,
                                               o_GLOBAL_BUFFER_OUTPUT=ClockSignal("sync"))
            else:
                m.d.comb += ClockSignal("sync").eq(self.pin)
            # "Lock" once a power-on counter has run out; its flip-flops
            # start at zero after configuration and are never reset.
            m.domains.por = ClockDomain("por", reset_less=True, local=True)
            m.d.comb += ClockSignal("por").eq(ClockSignal("sync"))
            count = Signal(range(POWER_ON_CYCLES + 1))
            with m.If(count != POWER_ON_CYCLES):
                m.d.por += count.eq(count + 1)
            m.d.comb += lock.eq(count == POWER_ON_CYCLES)
        else:
            make = {"ice40": _ice40_instance, "ecp5": _ecp5_instance}[self.settings.family]
            m.submodules.pll = make(self.settings, self.pin, ClockSignal("sync"), lock)
        # Hold sync in reset until the PLL locks (released synchronously).
        # nextpnr-ice40 promotes the high-fanout reset to a global buffer
        # itself. On the ECP5 a DCCA global buffer for it was tried: it did
        # not change router2's course, and the static placer could put the
        # synchroniser's flip-flop where the DCCA's input cannot be reached
        # (`Failed to route arc 0.0 of net 'pll.pll_rst_rst'`), so the reset
        # is plain fabric routing on both families.
        m.submodules.reset_sync = ResetSynchronizer(~lock, domain="sync")
        return m
