"""The embedded default of `lumiere-eval ucf101`: the synthetic domain run through the runner, compared in one
report with a SIMULATED human study.

It composes the layers the one-way data flow keeps apart (the runner never imports the human study): `default_run`
(the models through the UCF101 runner, the comparison table, plots, sample grid and statistics) and
`simulated_study` (the report's simulated many-model study, computed by the human study's leaderboard and
agreement code).
"""
