"""The metric memo: a kept result equals the computed one exactly, any input change misses, damage recomputes."""
import json

import numpy as np
import pytest

from lumiere_eval.metrics import values
from lumiere_eval.metrics.protocols import get_fvd_protocol, get_is_protocol, get_jedi_protocol
from lumiere_eval.runner.metric_memo import MetricMemo


def _cases():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 5)), 0.3 + 1.2 * rng.normal(size=(24, 5))
    probs = rng.dirichlet(np.ones(7), size=24)
    return {"fvd": (real, fake, get_fvd_protocol("fvd2048_16f")),
            "kvd": (real, fake, get_fvd_protocol("fvd2048_16f")),
            "jedi": (real, fake, get_jedi_protocol("jedi5000_16f")),
            "is": (None, probs, get_is_protocol("is10k_tgan_ucf"))}


@pytest.mark.parametrize("name", ["fvd", "kvd", "jedi", "is"])
def test_a_kept_result_is_the_computed_one_bit_for_bit(tmp_path, name):
    real, fake, protocol = _cases()[name]
    expected = values.compute(name, real, fake, protocol, 20, 3)
    memo = MetricMemo(tmp_path)
    first = memo.compute(name, real, fake, protocol, 20, 3)
    (kept,) = list((tmp_path / "metric_results").iterdir())
    second = MetricMemo(tmp_path).compute(name, real, fake, protocol, 20, 3)
    assert first == expected and second == expected
    assert expected["ci_low"] < expected["value"] < expected["ci_high"]  # a real interval was kept, not (None, None)
    assert json.loads(kept.read_text()) == expected


def test_a_second_call_reads_the_memo_instead_of_computing(tmp_path):
    real, fake, protocol = _cases()["fvd"]
    memo = MetricMemo(tmp_path)
    memo.compute("fvd", real, fake, protocol, 20, 3)
    (kept,) = list((tmp_path / "metric_results").iterdir())
    kept.write_text(json.dumps({"value": -1.0}))  # what is stored is what comes back
    assert memo.compute("fvd", real, fake, protocol, 20, 3) == {"value": -1.0}


def test_every_input_is_part_of_the_key(tmp_path):
    real, fake, protocol = _cases()["fvd"]
    memo = MetricMemo(tmp_path)
    base = memo.key("fvd", real, fake, protocol, 20, 3)
    changed = fake.copy()
    changed[5, 2] += 1e-12
    variants = [memo.key("kvd", real, fake, protocol, 20, 3), memo.key("fvd", real, changed, protocol, 20, 3),
                memo.key("fvd", real[:-1], fake, protocol, 20, 3), memo.key("fvd", real, fake, protocol, 21, 3),
                memo.key("fvd", real, fake, protocol, 20, 4),
                memo.key("fvd", real, fake, get_fvd_protocol("fvd2048_16f").derive(unbiased_covariance=True), 20, 3),
                memo.key("fvd", real, fake.astype(np.float32), protocol, 20, 3)]
    assert len({base, *variants}) == len(variants) + 1


def test_a_damaged_memo_file_is_recomputed_and_rewritten(tmp_path):
    real, fake, protocol = _cases()["jedi"]
    memo = MetricMemo(tmp_path)
    expected = memo.compute("jedi", real, fake, protocol, 20, 3)
    (kept,) = list((tmp_path / "metric_results").iterdir())
    kept.write_text('{"value": 1.0')  # cut off mid-write by a crash
    assert memo.compute("jedi", real, fake, protocol, 20, 3) == expected
    assert json.loads(kept.read_text()) == expected
