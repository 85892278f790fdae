"""In-domain evaluators for the synthetic action domain: a small 3D-conv classifier (IS from its class
probabilities, Frechet distance from its penultimate features: the roles C3D and I3D play on UCF101) and a
small video-text contrastive model (CLIP similarity), shipped as small checkpoints.

Modules: `networks` (models, the input protocol, the checkpoint loader), `extractors` (the registered
extractors), `shipped` (the shipped files and their SHA-256). Their training, training sets and metric
sanity checks live in `lumiere_eval.training` (`evaluators`, `evaluator_data`, `evaluator_sanity`).
"""
