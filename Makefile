# Hemi: the two commands a new user needs are `make demo` and `make test`.
# Every target creates and fills .venv on first use (PyPI only, no apt step);
# a stamp file makes later runs skip the install.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.hemi-installed
CONFIG  ?= configs/default.toml
JOBS    ?= auto

FPGA_STAMP := $(VENV)/.hemi-fpga-installed
BOARD   ?=

SEEDS   ?= 2
SCALE   ?= 1
UNITS   ?= left,right,callosum

.PHONY: all venv demo demo-gemm test sim unit verilog lint bench fpga fpga-all soak formal coverage clean distclean help

all: test

help:
	@echo "make demo      the hybrid digits network on the chip top (ARGS=--all: whole test split)"
	@echo "make demo-gemm a quantized GEMM through the left core in Verilator"
	@echo "make test      the whole suite (unit tests + cocotb benches), pytest -n $(JOBS)"
	@echo "make sim       the cocotb/Verilator benches only"
	@echo "make unit      the fast Python/Amaranth tests only"
	@echo "make verilog   generate Verilog for CONFIG=$(CONFIG) into build/rtl/"
	@echo "make lint      verilator --lint-only -Wall on that Verilog (waivers: lint/)"
	@echo "make bench     performance benchmarks -> build/bench/*.json"
	@echo "make fpga BOARD=icebreaker|ulx3s-85f  bitstream + build/fpga/<board>/report.json (CONFIG=... overrides the board's)"
	@echo "make fpga-all  every board, then build/fpga/summary.md"
	@echo "make formal    SymbiYosys proofs of the FIFO, the arbiter and the router -> build/formal/summary.json"
	@echo "make coverage  every bench with Verilator line+toggle coverage and functional bins -> build/coverage/"
	@echo "make soak      long random regressions per seed (SEEDS=2 UNITS=... SCALE=1; SEED=<n> replays) -> build/soak/summary.json"
	@echo "make clean     remove build/ (distclean also removes .venv)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $(STAMP)

venv: $(STAMP)

# The FPGA toolchain (YoWASP yosys/nextpnr from PyPI), only for make fpga.
$(FPGA_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[fpga]'
	@touch $@

demo: $(STAMP)
	$(PY) -m tools.demo --config $(CONFIG) $(ARGS)

demo-gemm: $(STAMP)
	$(PY) -m tools.demo_gemm --config $(CONFIG) $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests

sim: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m sim tests

unit: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m "not sim" tests

verilog: $(STAMP)
	$(PY) -m rtl.generate --config $(CONFIG) --out build/rtl

lint: $(STAMP)
	$(PY) -m tools.lint --config $(CONFIG) --out build/rtl

bench: $(FPGA_STAMP)
	$(PY) -m tools.bench $(ARGS)

formal: $(STAMP)
	$(PY) -m formal.run

# Every cocotb bench (make sim's matrix) built with Verilator line and toggle
# coverage, merged per build, with the functional bins (tools/coverage.py).
coverage: $(STAMP)
	$(PY) -m tools.coverage -n $(JOBS) $(ARGS)

# Long random regressions (not part of make test): SEEDS seeds per unit;
# SEED=<n> replays from seed n, SCALE=0.01 is a quick smoke run.
soak: $(STAMP)
	$(PY) -m tools.soak --seeds $(SEEDS) --units $(UNITS) --scale $(SCALE) $(if $(SEED),--first-seed $(SEED)) $(if $(filter command line,$(origin CONFIG)),--config $(CONFIG)) $(ARGS)

# CONFIG given on the command line replaces the board's own config.
fpga: $(FPGA_STAMP)
	@test -n "$(BOARD)" || { echo "make fpga: say which board: BOARD=icebreaker or BOARD=ulx3s-85f"; exit 2; }
	$(PY) -m fpga.build --board $(BOARD) $(if $(filter command line,$(origin CONFIG)),--config $(CONFIG)) $(ARGS)

fpga-all: $(FPGA_STAMP)
	$(PY) -m fpga.build --all $(ARGS)

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV)
