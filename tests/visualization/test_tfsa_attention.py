"""TFSA attention PNGs (crbench/visualization/attention.py)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from crbench.models.diffusion.emrdm import EMRDM
from crbench.visualization.attention import (TFSAAttentionHook, save_tfsa_attention,
                                             tfsa_attention_image)


def _attn(heads=3, batch=2, frames=3, h=4, w=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(heads, batch, frames, h, w, generator=g).softmax(dim=2)


def test_one_png_per_head_and_sample_with_t_panels(tmp_path):
    attn = _attn()
    paths = save_tfsa_attention(attn, str(tmp_path / 'attn'), ['tile_a/0001', 'b'], scale=4,
                                gap=2)
    names = sorted(os.listdir(tmp_path / 'attn'))
    assert len(paths) == 3 * 2 == len(names)
    assert names == sorted(f'{s}_head{g:02d}.png' for s in ('tile_a_0001', 'b')
                           for g in range(3))
    for path in paths:
        image = Image.open(path)
        assert image.mode == 'RGB'
        assert image.size == (3 * 5 * 4 + 2 * 2, 4 * 4)  # (width, height): T panels + gaps


def test_panels_follow_the_weights_on_a_fixed_scale():
    maps = torch.zeros(2, 2, 2)
    maps[0, 0, 0] = 1.0  # frame 0 gets all the weight of token (0, 0)
    maps[1] = 1 - maps[0]
    image = tfsa_attention_image(maps, scale=3, gap=1)
    assert image.shape == (6, 2 * 6 + 1, 3) and image.dtype == np.uint8
    low, high = image[4, 4], image[0, 0]  # frame 0: weight 0 vs 1
    assert not np.array_equal(low, high)
    assert np.array_equal(image[0, 7 + 0], low)        # frame 1 at token (0, 0): weight 0
    assert np.array_equal(image[4, 7 + 4], high)       # frame 1 elsewhere: weight 1
    assert (image[:, 6] == 255).all()                  # the white gap
    assert np.array_equal(image[0, 0], image[2, 2])    # nearest-neighbour blocks


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match=r'\[heads, B, T, h, w\]'):
        save_tfsa_attention(torch.rand(2, 3, 4, 4), str(tmp_path), ['a'])
    with pytest.raises(ValueError, match='1 sample ids for a batch of 2'):
        save_tfsa_attention(_attn(), str(tmp_path), ['a'])


def test_hook_saves_the_last_sampling_step(tmp_path):
    """The hook on a real tiny TemporalHDiT inside EMRDM: heads x samples files, last step."""
    torch.manual_seed(0)
    net = dict(type='TemporalHDiT', in_channels=7, out_channels=3, patch_size=1,
               widths=[8, 16], depths=[1, 1], d_ffs=[16, 32],
               self_attns=[dict(type='neighborhood', d_head=8, kernel_size=3),
                           dict(type='global', d_head=8)],
               dropout_rate=[0.0, 0.0], mapping_depth=1, mapping_width=16, mapping_d_ff=32,
               mapping_dropout_rate=0.0, temporal_n_heads=2, temporal_d_k=4, temporal_d_ff=16)
    model = EMRDM(network=net, mean_bands=[0, 1, 2], sampler=dict(type='EulerSampler',
                                                                    num_steps=3))

    class FakeRunner:
        pass

    runner = FakeRunner()
    runner.model = model
    calls = []
    model.network.register_forward_hook(lambda m, a, out: calls.append(out[1].clone()))
    hook = TFSAAttentionHook(str(tmp_path / 'attn'), scale=2)
    hook.before_test(runner)
    hook.before_test_iter(runner, 0)
    model.restore(dict(cloudy=torch.rand(2, 3, 4, 8, 8) * 2 - 1))
    assert len(calls) == 3  # one network call per Euler step

    class Sample:
        def __init__(self, sid):
            self.metainfo = dict(sample_id=sid)

    hook.after_test_iter(runner, 0, outputs=[Sample('x'), Sample('y')])
    hook.after_test(runner)
    assert sorted(os.listdir(tmp_path / 'attn')) == [
        'x_head00.png', 'x_head01.png', 'y_head00.png', 'y_head01.png']
    # 8x8 input, one merge: 4x4 bottleneck tokens, 3 frames, scale 2, gap 2
    assert Image.open(tmp_path / 'attn' / 'x_head01.png').size == (3 * 4 * 2 + 2 * 2, 4 * 2)
    want = tfsa_attention_image(calls[-1][1, 0], scale=2)  # head 1, sample 0, last step
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'attn' / 'x_head01.png')), want)
    first = tfsa_attention_image(calls[0][1, 0], scale=2)
    assert not np.array_equal(first, want)  # the steps differ: it is really the last one
    assert hook._handle is None
