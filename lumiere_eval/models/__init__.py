"""lumiere_eval.models."""
