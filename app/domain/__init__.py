"""Pure business rules: dataclasses and functions, no framework, no I/O, time passed in."""
