"""2AFC human studies: pairs and vigilance checks from runs, MTurk batch files and API publishing, analysis.

Modules: `sources` (runs and manifests) -> `design` (pairs, sides, vigilance) -> `study` (the study folder,
with `layout`) -> `mturk` (publish/fetch/review) -> `results` (reading answers) -> `analysis` (with `stats`).
`simulate` answers a study with simulated raters. Many models: `leaderboard` (Bradley-Terry with ties,
bootstrap, robustness), `adaptive` (next round's pairs, stopping rule, cost), `agreement` (metric-human
agreement). The default run's SIMULATED study is `lumiere_eval.demo.simulated_study`. boto3 is imported only by
`mturk.make_client`.
"""
