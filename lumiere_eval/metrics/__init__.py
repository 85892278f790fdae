"""Metric maths (pure functions) and streaming feature statistics."""
from lumiere_eval.metrics.bootstrap import bootstrap_ci
from lumiere_eval.metrics.checks import MetricInputError
from lumiere_eval.metrics.clip_score import clip_similarity
from lumiere_eval.metrics.frechet import frechet_distance, frechet_distance_to_features
from lumiere_eval.metrics.inception import inception_score
from lumiere_eval.metrics.kernel import kernel_distance
from lumiere_eval.metrics.stats import FeatureStats, frechet_distance_from_stats

__all__ = [
    "FeatureStats", "MetricInputError", "bootstrap_ci", "clip_similarity", "frechet_distance",
    "frechet_distance_from_stats", "frechet_distance_to_features", "inception_score", "kernel_distance",
]
