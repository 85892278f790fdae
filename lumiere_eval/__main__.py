"""`python -m lumiere_eval` is the same as the `lumiere-eval` command (torchrun uses this form)."""
from lumiere_eval.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
