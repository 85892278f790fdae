"""lumiere_eval.dashboard."""
