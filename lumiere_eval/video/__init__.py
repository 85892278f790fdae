"""lumiere_eval.video."""
