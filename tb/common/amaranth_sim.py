"""The one way the fast tests run a component in Amaranth's simulator."""

from amaranth.sim import Simulator


def simulate(dut, bench):
    """Run the async testbench ``bench(ctx)`` against ``dut`` on a 1 MHz
    ``sync`` clock until it returns."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
