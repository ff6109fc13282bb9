"""Enable-gated delay lines: the skew, de-skew and tag pipelines."""

from amaranth.hdl import Signal


def delay_line(m, sig, n, en, name):
    """Return ``[sig, sig delayed 1, ..., sig delayed n]``: a chain of ``n``
    registers that advance only when ``en`` is high."""
    taps = [sig]
    for i in range(n):
        nxt = Signal.like(sig, name=f"{name}_d{i + 1}", src_loc_at=1)
        with m.If(en):
            m.d.sync += nxt.eq(taps[-1])
        taps.append(nxt)
    return taps


def delay(m, sig, n, en, name):
    """``sig`` delayed by ``n`` enable-gated stages (``sig`` itself for 0)."""
    return delay_line(m, sig, n, en, name)[-1]
