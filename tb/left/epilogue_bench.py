"""An Amaranth testbench that plays the left core around an
:class:`rtl.left.epilogue.Epilogue`: it tracks which token each pipeline
stage holds, raises ``s1_valid`` while stage 1 holds one (``s0_valid``
with a token entering it) and advances
(``en``) only when not stalled, and collects each token's ``result``.

For the compact epilogue the result is a stream (``o_valid`` / ``o_ready``)
out of its sequential stage 2; with an ``rng`` the bench then also holds
``en`` low on random cycles (as the core does while an input is late),
leaves random gaps between tokens and applies random back-pressure on the
output."""


def play_epilogue(dut, cases, apply, rng=None, max_cycles=None):
    """Return ``(bench, results, stalls)``: the async bench to simulate, and
    after it ran, ``{case index: [lane results]}`` and one bool per cycle
    (``stall`` was high). ``apply(ctx, case)`` drives ``acc`` and
    ``params`` for a case entering stage 1."""
    results, stalls = {}, []
    compact = dut.compact
    rng = rng if compact else None        # the fixed-latency kinds run as before

    def chance(p):
        return rng is not None and rng.random() < p

    async def bench(ctx):
        stages = [None] * dut.LATENCY
        stage2 = None                     # compact: the token in stage 2
        k = cycles = 0
        while len(results) < len(cases):
            ctx.set(dut.s1_valid, stages[0] is not None)
            stall = bool(ctx.get(dut.stall))
            stalls.append(stall)
            en = not stall and not chance(0.15)
            ctx.set(dut.en, en)
            token = None
            if en and k < len(cases) and not chance(0.2):
                token = k
                apply(ctx, cases[k])
                k += 1
            ctx.set(dut.s0_valid, token is not None)
            taken = False
            if compact:
                ready = not chance(0.3)
                ctx.set(dut.o_ready, ready)
                assert ctx.get(dut.busy) == (stage2 is not None)
                if ctx.get(dut.o_valid) and ready:
                    assert stage2 is not None
                    results[stage2] = [ctx.get(dut.result[c]) for c in range(dut.cols)]
                    taken = True
            await ctx.tick()
            cycles += 1
            assert max_cycles is None or cycles < max_cycles, "epilogue never let its tokens through"
            if compact:
                if taken:
                    stage2 = None
                if en and stages[0] is not None:
                    assert stage2 is None, "stage 2 overwritten"
                    stage2 = stages[0]
            if en:
                stages = [token] + stages[:-1]
                if not compact and stages[-1] is not None:
                    results[stages[-1]] = [ctx.get(dut.result[c]) for c in range(dut.cols)]

    return bench, results, stalls
