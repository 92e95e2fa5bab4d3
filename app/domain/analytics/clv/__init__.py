"""Customer lifetime value: historic, simple and retention-based formulas, and the predictive
BG/NBD + Gamma-Gamma models. Pure: arrays in, arrays out; no I/O, dates passed in."""
