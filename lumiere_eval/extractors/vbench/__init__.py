"""VBench's dimensions with VBench's networks: its exact frame preprocessing (`frames`), the DINO ViT-B/16 of
subject consistency (`dino`), the ViCLIP ViT-L/14 of overall consistency and temporal style (`viclip`), and the
per-frame / per-video network outputs of each dimension (`features`, `semantic`).

Reference: the vbench package 0.1.5 (its dimension modules and `vbench/utils.py`); docs/conformance.md has the
comparisons.
"""
