"""lumiere_eval.metrics."""
