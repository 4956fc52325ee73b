"""Leaderboard: reported numbers (papers) and reproduced runs side by side.

``collect`` loads and validates ``leaderboard/reported.csv``,
``leaderboard/reported_efficiency.csv``, ``leaderboard/results/*.json`` (test
runs) and ``leaderboard/efficiency/*.json`` (``tools/benchmark.py``);
``render`` writes the markdown, tidy CSV and static HTML, ``plots`` the PNG
figures. Entry point: ``tools/leaderboard.py``. A model's cost is measured by
``crbench.analysis`` (it needs torch), not here.
"""
from .collect import (CRBENCH_MODELS, DATASETS, METRIC_DIRECTION, MODEL_DISPLAY,
                      OFFICIAL_PROTOCOL, LeaderboardError, LeaderboardWarning,
                      RefusedMetricError, ReportedCSVError, build_tidy, check_metric_key,
                      is_refused_metric, load_efficiency, load_measured, load_reported,
                      load_runs, model_display, select_runs)
from .render import (build_sections, render_csv, render_html, render_markdown,
                     write_leaderboard)

__all__ = [
    'CRBENCH_MODELS', 'DATASETS', 'METRIC_DIRECTION', 'MODEL_DISPLAY', 'OFFICIAL_PROTOCOL',
    'LeaderboardError', 'LeaderboardWarning', 'RefusedMetricError', 'ReportedCSVError',
    'build_tidy', 'check_metric_key', 'is_refused_metric', 'load_efficiency', 'load_measured',
    'load_reported', 'load_runs', 'model_display', 'select_runs', 'build_sections',
    'render_csv', 'render_html', 'render_markdown', 'write_leaderboard',
]
