"""lumiere_eval.protocols."""
