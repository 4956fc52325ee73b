"""PairedRandomCrop and RescaleBandsToSymmetric, alone and in the GLF-CR SEN12MS-CR
pipeline (configs/glf_cr/glf_cr_sen12mscr.py) on the synthetic twin."""
import os.path as osp

import numpy as np
import pytest
import rasterio
from mmengine.config import Config

from crbench.datasets import SEN12MSCRDataset
from crbench.datasets.synthetic import write_sen12mscr
from crbench.datasets.transforms import PairedRandomCrop, RescaleBandsToSymmetric
from crbench.setup_env import register_all_modules

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def sample(h=10, w=12):
    rng = np.random.default_rng(0)
    return dict(cloudy=rng.random((h, w, 13)), sar=rng.random((h, w, 2)), gt=rng.random((h, w, 13)),
                transform=(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0),
                bounds=(500000.0, 4000000.0 - 10 * h, 500000.0 + 10 * w, 4000000.0), sample_id='s')


def test_paired_random_crop_takes_one_window_everywhere():
    full = dict(sample(), sample_idx=3)
    seen = set()
    crop = PairedRandomCrop(4)
    for _ in range(40):
        out = crop(dict(full))
        top, left, h, w = out['crop_box']
        seen.add((top, left))
        for key in ('cloudy', 'sar', 'gt'):
            assert np.array_equal(out[key], full[key][top:top + 4, left:left + 4])
        assert out['img_shape'] == (4, 4)
        # the georeference follows the window (north-up: origin moves right and down)
        assert out['transform'][2] == 500000.0 + 10 * left
        assert out['transform'][5] == 4000000.0 - 10 * top
        assert out['bounds'] == (out['transform'][2], out['transform'][5] - 40,
                                 out['transform'][2] + 40, out['transform'][5])
    assert len({t for t, _ in seen}) > 3 and len({l for _, l in seen}) > 3
    assert max(t for t, _ in seen) <= 6 and max(l for _, l in seen) <= 8


def test_paired_random_crop_visits_are_reproducible():
    """A new window at each visit of a sample; a fresh transform (a resumed run replaying
    the same visits) draws the same sequence; seed=None uses numpy's global generator."""
    full = sample()
    a, b = PairedRandomCrop(4), PairedRandomCrop(4)
    seq = [a(dict(full, sample_idx=i % 2))['crop_box'] for i in range(10)]
    assert seq == [b(dict(full, sample_idx=i % 2))['crop_box'] for i in range(10)]
    assert len(set(seq[0::2])) > 1
    assert seq != [PairedRandomCrop(4, seed=1)(dict(full, sample_idx=i % 2))['crop_box']
                   for i in range(10)]
    np.random.seed(5)
    first = PairedRandomCrop(4, seed=None)(dict(full))['crop_box']
    np.random.seed(5)
    assert PairedRandomCrop(4, seed=None)(dict(full))['crop_box'] == first
    with pytest.raises(KeyError, match='sample_idx'):
        PairedRandomCrop(4)(dict(full))


def test_dsen2cr_offsets_leave_out_the_last_window():
    """last_offset=False: offsets 0 … H − size − 1 (official DSen2-CR); T×H×W×C arrays get
    the window in every frame; an image of exactly the crop size passes unchanged."""
    full = dict(sample(h=6, w=7), frames=np.random.default_rng(1).random((3, 6, 7, 2)))
    last, dsen2cr = PairedRandomCrop(4), PairedRandomCrop(4, last_offset=False)
    keys = ('cloudy', 'sar', 'gt', 'frames')
    seen_last, seen_dsen2cr = set(), set()
    for visit in range(60):
        seen_last.add(last(dict(full, sample_idx=0))['crop_box'][:2])
        out = PairedRandomCrop(4, keys=keys, last_offset=False, seed=visit)(
            dict(full, sample_idx=0))
        top, left = out['crop_box'][:2]
        seen_dsen2cr.add((top, left))
        np.testing.assert_array_equal(out['frames'], full['frames'][:, top:top + 4, left:left + 4])
        np.testing.assert_array_equal(out['sar'], full['sar'][top:top + 4, left:left + 4])
    assert {t for t, _ in seen_last} == {0, 1, 2} and {l for _, l in seen_last} == {0, 1, 2, 3}
    assert {t for t, _ in seen_dsen2cr} == {0, 1} and {l for _, l in seen_dsen2cr} == {0, 1, 2}
    exact = dict(sample(h=4, w=4), sample_idx=0)
    out = dsen2cr(dict(exact))
    assert out['crop_box'] == (0, 0, 4, 4) and np.array_equal(out['gt'], exact['gt'])


def test_paired_random_crop_errors():
    with pytest.raises(ValueError, match='smaller than the crop'):
        PairedRandomCrop(16)(dict(sample(), sample_idx=0))
    bad = dict(sample(), sample_idx=0)
    bad['sar'] = bad['sar'][:8]
    with pytest.raises(ValueError, match="'sar' is"):
        PairedRandomCrop(4)(bad)


def test_rescale_bands_uses_each_band_range():
    sar = np.array([[[-25.0, -32.5], [0.0, 0.0], [-12.5, -16.25], [-40.0, 5.0],
                     [np.nan, np.nan]]], dtype=np.float32)
    out = RescaleBandsToSymmetric('sar', ((-25, 0), (-32.5, 0)), clip=True,
                                  nan_values=(-25, -32.5))(dict(sar=sar))['sar']
    expected = np.array([[[-1, -1], [1, 1], [0, 0], [-1, 1], [-1, -1]]], dtype=np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match='one range per band'):
        RescaleBandsToSymmetric('sar', ((-25, 0), ))(dict(sar=sar))


def test_glf_cr_pipeline_on_the_synthetic_twin(tmp_path):
    """Train: 128 px crops of the same window, SAR bands scaled by their own dB ranges
    (official GLF-CR); test: whole images."""
    register_all_modules()
    root = write_sen12mscr(str(tmp_path), size=160, patches_per_scene=1, seed=2)
    cfg = Config.fromfile(osp.join(REPO, 'configs/glf_cr/glf_cr_sen12mscr.py'))
    train = SEN12MSCRDataset(data_root=root, split='train', pipeline=cfg.train_pipeline)
    test = SEN12MSCRDataset(data_root=root, split='test', pipeline=cfg.test_pipeline)
    item = train[0]
    assert item['inputs']['cloudy'].shape == (13, 128, 128)
    assert item['inputs']['sar'].shape == (2, 128, 128)
    assert item['data_samples'].gt.shape == (13, 128, 128)
    t = test[0]
    assert t['inputs']['cloudy'].shape == (13, 160, 160)
    with rasterio.open(test.data_list[0]['sar_path']) as src:
        raw = src.read().astype(np.float64)
    raw = np.nan_to_num(raw, nan=-100.0)
    for band, lo in enumerate((-25.0, -32.5)):
        ref = (np.clip(raw[band], lo, 0.0) - lo) / -lo * 2 - 1
        np.testing.assert_allclose(t['inputs']['sar'][band].numpy(), ref, atol=1e-5)
