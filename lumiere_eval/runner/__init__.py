"""lumiere_eval.runner."""
