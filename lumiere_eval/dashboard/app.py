"""Streamlit entry point (`streamlit run app.py`); the results root comes from $LUMIERE_EVAL_DASHBOARD_ROOT."""
from __future__ import annotations

from lumiere_eval.dashboard.views import main

main()
