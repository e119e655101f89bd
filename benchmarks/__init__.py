"""Benchmarks of cellshapes, kept out of the library: the harness and its baselines.

``harness`` times our training step against ``baselines`` (reference-style code) and
dense against narrow-band inference; ``cellshapes bench`` and ``run.py`` run it.
"""
