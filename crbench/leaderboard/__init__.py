"""Leaderboard: reported numbers (papers) and reproduced runs side by side.

``collect`` loads and validates ``leaderboard/reported.csv``,
``leaderboard/reported_efficiency.csv``, ``leaderboard/results/*.json`` (test
runs) and ``leaderboard/efficiency/*.json`` (``crbench benchmark``);
``vocabulary`` reads datasets, protocols and models from the registries and
the model index (nothing is listed here); ``sections`` arranges the tables,
``markdown`` and ``html`` render them (the page's CSS/JS are in ``static/``),
``render`` writes everything, ``plots`` the PNG figures. Entry point:
``crbench leaderboard`` (``tools/leaderboard.py``). A model's cost is measured by
``crbench.analysis`` (it needs torch), not here.
"""
from .collect import (LeaderboardError, LeaderboardWarning, RefusedMetricError,
                      ReportedCSVError, build_tidy, check_metric_key, is_refused_metric,
                      known_datasets, load_efficiency, load_measured, load_reported, load_runs,
                      model_display, official_protocol, select_runs)
from .render import (build_sections, render_csv, render_html, render_markdown,
                     write_leaderboard)

__all__ = [
    'LeaderboardError', 'LeaderboardWarning', 'RefusedMetricError', 'ReportedCSVError',
    'build_tidy', 'check_metric_key', 'is_refused_metric', 'known_datasets', 'load_efficiency',
    'load_measured', 'load_reported', 'load_runs', 'model_display', 'official_protocol',
    'select_runs', 'build_sections', 'render_csv', 'render_html', 'render_markdown',
    'write_leaderboard',
]
