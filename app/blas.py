"""Imported first by the command line (app/__main__.py), before numpy loads: OpenBLAS reads its
thread count once, when it is loaded. The models fitted here (sales forecasts, customer values) are
small: BLAS threads gain nothing on them, and a threaded call spins while another core is taken
(fits slowed by up to 10x on a shared machine: benchmarks/README.md; the sales forecast's fits ran
in about half the time single-threaded). An operator who sets the variables keeps them."""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
