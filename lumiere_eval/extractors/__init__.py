"""lumiere_eval.extractors."""
