"""2AFC human studies: pairs and vigilance checks from runs, MTurk batch files and API publishing, analysis.

Modules: `sources` (runs and manifests) -> `design` (pairs, sides, vigilance) -> `study` (the study folder,
with `layout`) -> `mturk` (publish/fetch/review) -> `results` (reading answers) -> `analysis` (with `stats`).
`simulate` answers a study with simulated raters. boto3 is imported only by `mturk.make_client`.
"""
