"""Training code, kept apart from the runtime packages: loading a generator or an extractor never imports it
(nor the synthetic renderer it trains on, `lumiere_eval.datasets.synthetic`).

- `lumiere_stages`: resumable training of one stage of the tiny Lumiere (`lumiere-eval train STAGE`,
  `lumiere_cli`); `lumiere_recipe`: every stage of the shipped `models/lumiere-tiny` checkpoints, then ship
  (`make train-lumiere`); `motion_check`: the model-free direction check the recipe records.
- `evaluators`: the in-domain evaluators (`lumiere-eval train-evaluators`), trained on sets from
  `evaluator_data`, checked by `evaluator_sanity`.
- `lumiere_sd`: the temporal layers of a diffusers T2I inflated into a Space-Time U-Net (`lumiere-eval
  train-sd`, `lumiere_sd_cli`; docs/lumiere_sd.md).
"""
