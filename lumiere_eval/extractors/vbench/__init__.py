"""VBench's dimensions with VBench's networks: its exact frame preprocessing (`frames`), the DINO ViT-B/16 of
subject consistency (`dino`), and the per-video scoring of each dimension (`dimensions`).

Reference: the vbench package 0.1.5 (its dimension modules and `vbench/utils.py`); docs/conformance.md has the
comparisons.
"""
