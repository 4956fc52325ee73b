"""crbench.visualization.grids: comparison grids a person can read, also of small images."""
import numpy as np
import pytest
import torch

from crbench.visualization.grids import (COMPARISON_LABELS, LABEL_BAND, MIN_PANEL,
                                         comparison_grid, enlarge, enlarge_factor, label_band)


def panels(size=32, bands=4):
    g = torch.Generator().manual_seed(0)
    return [torch.rand(bands, size, size, generator=g) * 2 - 1 for _ in range(3)]


def test_plain_grid_is_unchanged():
    grid = comparison_grid(panels())
    assert grid.shape == (32, 3 * 32 + 2 * 4, 3) and grid.dtype == np.uint8


def test_small_panels_are_enlarged_by_nearest_and_labelled():
    p = panels()
    plain = comparison_grid(p)
    grid = comparison_grid(p, labels=COMPARISON_LABELS, min_panel=MIN_PANEL)
    factor = MIN_PANEL // 32
    assert grid.shape == (LABEL_BAND + 32 * factor, 3 * 32 * factor + 2 * 4, 3)
    body = grid[LABEL_BAND:]
    # nearest: every source pixel becomes a factor x factor block of the same value
    first = body[:, :32 * factor]
    np.testing.assert_array_equal(first[::factor, ::factor], plain[:, :32])
    np.testing.assert_array_equal(first, enlarge(plain[:, :32], factor))
    second = body[:, 32 * factor + 4:2 * 32 * factor + 4]
    np.testing.assert_array_equal(second[::factor, ::factor], plain[:, 36:68])
    # each label is drawn in dark pixels above its own panel only
    band = grid[:LABEL_BAND].min(axis=2)
    for i in range(3):
        left = i * (32 * factor + 4)
        assert band[:, left:left + 32 * factor].min() < 100
    assert band[:, 32 * factor:32 * factor + 4].min() == 255  # the gaps stay blank


def test_large_panels_keep_their_size_and_factor_rules():
    assert enlarge_factor(32, 32) == 4 and enlarge_factor(100, 300) == 2
    assert enlarge_factor(256, 256) == 1 and enlarge_factor(0, 5) == MIN_PANEL
    grid = comparison_grid(panels(size=160), labels=COMPARISON_LABELS, min_panel=MIN_PANEL)
    assert grid.shape == (LABEL_BAND + 160, 3 * 160 + 8, 3)
    with pytest.raises(ValueError, match='2 labels for 3 panels'):
        comparison_grid(panels(), labels=('a', 'b'))


def test_label_band_is_deterministic_and_centred():
    a = label_band(300, ['cloudy'], [150.0])
    np.testing.assert_array_equal(a, label_band(300, ['cloudy'], [150.0]))
    dark = np.where(a.min(axis=2).min(axis=0) < 128)[0]
    assert abs((dark.min() + dark.max()) / 2 - 150) <= 3


def test_comparison_hook_writes_labelled_enlarged_pngs(tmp_path):
    from PIL import Image
    from crbench.engine.hooks import ComparisonImageHook
    from crbench.structures import CRDataSample
    hook = ComparisonImageHook(str(tmp_path), max_images=1)
    hook.before_test(None)
    cloudy, pred, gt = panels()
    sample = CRDataSample(metainfo=dict(sample_id='s0'))
    sample.pred, sample.gt = pred, gt
    hook.after_test_iter(None, 0, data_batch={'inputs': cloudy[None]}, outputs=[sample])
    with Image.open(tmp_path / 's0.png') as img:
        assert img.size == (3 * 32 * 4 + 8, LABEL_BAND + 32 * 4)
