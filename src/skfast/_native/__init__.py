"""Compiled Cython kernels, built from ``native/*.pyx`` at install time.

Only the dispatchers in the Python API import from here; the kernels trust
their input and never validate it.
"""
