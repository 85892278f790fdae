"""Datasets: the UCF101 tree, its split files and prompt suites, and the synthetic action domain (metric
protocols are in lumiere_eval.metrics.protocols)."""
