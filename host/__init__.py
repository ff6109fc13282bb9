"""Host-side software for Hemi: network preparation (and, later, the chip
drivers for the golden model, Verilator and board back-ends)."""
