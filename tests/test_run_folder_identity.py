"""A run folder whose identity.json is damaged is refused by name, not with a raw JSON traceback."""
from __future__ import annotations

import pytest

from lumiere_eval.runner.run_folder import RunIdentityError, check_identity, recorded_identity


@pytest.mark.parametrize("text", ["{\"model\": ", "[1, 2]", ""])
def test_damaged_identity_file_is_named(tmp_path, text):
    (tmp_path / "identity.json").write_text(text)
    with pytest.raises(RunIdentityError, match="identity.json"):
        check_identity(tmp_path, {"model": "dummy"})
    with pytest.raises(RunIdentityError, match="identity.json"):
        recorded_identity(tmp_path)
    check_identity(tmp_path, {"model": "dummy"}, overwrite=True)  # --overwrite starts the folder again
    assert recorded_identity(tmp_path) == {"model": "dummy"}
