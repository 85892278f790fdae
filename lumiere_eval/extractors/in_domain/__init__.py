"""In-domain evaluators for the synthetic action domain: a small 3D-conv classifier (IS from its class
probabilities, Frechet distance from its penultimate features: the roles C3D and I3D play on UCF101) and a
small video-text contrastive model (CLIP similarity), trained here and shipped as small checkpoints.

Modules: `networks` (models and the input protocol), `data` (rendered training sets, caption variants),
`train` (one resumable command), `extractors` (the registered extractors), `sanity` (metric sanity checks).
"""
