"""lumiere_eval.human_study."""
