"""Formal proofs (SymbiYosys) of the callosum's FIFO, packet validator and
router and the chip's message arbiter: ``python -m formal.run`` (``make
formal``).

Each harness module (``fifo``, ``arbiter``, ``validator``, ``router``) builds an Amaranth
design that wraps the unit under proof with ``Assume``/``Assert``/``Cover``
statements and lists its proofs (:class:`formal.common.Proof`); ``run``
writes each design as RTLIL with an ``.sby`` file and runs SymbiYosys.
"""
