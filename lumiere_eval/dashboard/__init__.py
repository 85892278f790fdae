"""The Streamlit results dashboard: leaderboard, run detail, videos, comparison and human-study pages.

`records` and `paths` read result folders without Streamlit; only `app` (run by `streamlit run`) imports it.
"""
