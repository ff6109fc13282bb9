"""cocotb testbenches for Hemi, run on Verilator through cocotb_tools.runner."""
