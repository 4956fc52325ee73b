"""Tiled scene inference: seamless, exact for local models, georeference kept."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import Affine

from crbench.inference import (SceneInferenceError, SymmetricScaling, blend_window_1d,
                               restore_scene, scaling_from_config, tile_starts)
from crbench.models.restorers import SupervisedRestorer
from crbench.registry import MODELS

H, W = 1000, 1300
CRS = 'EPSG:32633'
TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4600000.0)
NODATA = 0
SCALE = SymmetricScaling(0.0, 10000.0)


@MODELS.register_module(force=True)
class TiledTestConvNet(torch.nn.Module):
    """Two 3×3 convolutions: translation equivariant, receptive radius 2."""

    def __init__(self, channels: int = 4):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(channels, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, channels, 3, padding=1)

    def forward(self, x):
        return self.conv2(torch.tanh(self.conv1(x)))


@MODELS.register_module(force=True)
class TiledTestIdentityNet(torch.nn.Module):
    """A 1×1 convolution initialised to the identity."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(channels)[:, :, None, None])
            self.conv.bias.zero_()

    def forward(self, x):
        return self.conv(x)


def framework(net: str, channels: int = 4, clamp: bool = False):
    return SupervisedRestorer(generator=dict(type=net, channels=channels), losses={},
                              clamp_output=clamp).eval()


@pytest.fixture(scope='module')
def scene(tmp_path_factory) -> str:
    """A 1000×1300 4-band uint16 GeoTIFF with a nodata corner and band names."""
    path = str(tmp_path_factory.mktemp('scene') / 'scene.tif')
    rng = np.random.default_rng(0)
    data = rng.integers(1, 10000, size=(4, H, W), dtype=np.uint16)
    data[:, :70, :90] = NODATA  # nodata corner (every band)
    profile = dict(driver='GTiff', width=W, height=H, count=4, dtype='uint16', crs=CRS,
                   transform=TRANSFORM, nodata=NODATA, tiled=True, blockxsize=256,
                   blockysize=256)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
        for i, name in enumerate(('B4', 'B3', 'B2', 'B8'), start=1):
            dst.set_band_description(i, name)
    return path


def read_all(path):
    with rasterio.open(path) as src:
        return src.read(), src.crs, src.transform, src.nodata, src.descriptions


def untiled(model, data: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(SCALE.forward(data))[None]
    with torch.no_grad():
        return SCALE.inverse(model.restore({'cloudy': x})[0].numpy())


def test_tiles_cover_and_weights_partition():
    assert tile_starts(1000, 256, 224) == [0, 224, 448, 672, 744]
    assert tile_starts(100, 256, 224) == [0]
    weight = blend_window_1d(256, 32, 8, True, True)
    assert weight[:8].max() == 0 and weight[-8:].max() == 0 and weight[32:224].min() == 1
    # two neighbours over their 32 shared pixels sum to one: no seam
    left, right = blend_window_1d(256, 32, 8, False, True), blend_window_1d(256, 32, 8, True, False)
    np.testing.assert_allclose(left[224:] + right[:32], 1.0, atol=1e-12)
    assert left[0] == 1 and right[-1] == 1  # no ramp at the scene border


def test_tiled_equals_untiled_for_a_local_model(scene, tmp_path):
    model = framework('TiledTestConvNet')
    out = str(tmp_path / 'out.tif')
    ticks = []
    result = restore_scene(model, scene, out, in_scaling=SCALE, tile=256, overlap=32,
                           out_dtype='float32', progress=False,
                           on_tile=lambda done, total: ticks.append((done, total)))
    assert result.n_tiles == 30 and ticks[-1] == (30, 30)
    data, crs, transform, nodata, names = read_all(scene)
    tiled, out_crs, out_transform, out_nodata, out_names = read_all(out)
    assert out_crs == crs and out_transform == transform and out_nodata == nodata
    assert out_names == names and tiled.dtype == np.float32 and tiled.shape == (4, H, W)

    ref = untiled(model, data)
    valid = ~np.all(data == NODATA, axis=0)
    err = np.abs(tiled - ref) / (SCALE.hi - SCALE.lo) * 2  # in the model's [-1, 1] units
    interior = np.zeros_like(valid)
    interior[16:-16, 16:-16] = True
    assert err[:, interior & valid].max() < 1e-5
    assert err[:, valid].max() < 1e-5  # the scene border too: border tiles pad like the scene
    assert np.all(tiled[:, ~valid] == NODATA)

    # without the discarded margin the zero padding at inner tile edges shows: the
    # margin is what makes the result exact (and this test able to fail)
    out0 = str(tmp_path / 'out_margin0.tif')
    restore_scene(model, scene, out0, in_scaling=SCALE, tile=256, overlap=32, margin=0,
                  out_dtype='float32', progress=False)
    err0 = np.abs(read_all(out0)[0] - ref) / (SCALE.hi - SCALE.lo) * 2
    assert err0[:, valid].max() > 1e-4


def test_identity_model_reproduces_the_scene_through_the_cli(scene, tmp_path, repo_root):
    model = framework('TiledTestIdentityNet', clamp=True)
    checkpoint = str(tmp_path / 'identity.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)  # a plain weights file
    config = tmp_path / 'identity.py'
    config.write_text(
        "default_scope = 'crbench'\n"
        "model = dict(type='SupervisedRestorer', generator=dict(type='TiledTestIdentityNet',"
        " channels=4), losses=dict(), clamp_output=True)\n"
        "test_pipeline = [dict(type='RescaleToSymmetric', in_range=(0.0, 10000.0)),"
        " dict(type='PackCRInputs')]\n"
        "test_dataloader = dict(dataset=dict(type='CUHKCRDataset', pipeline=test_pipeline))\n")
    spec = importlib.util.spec_from_file_location(
        'infer_scene', osp.join(repo_root, 'tools', 'infer_scene.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'identity.tif')
    assert tool.main([str(config), checkpoint, scene, out, '--tile', '256', '--overlap', '32',
                      '--no-progress']) == 0
    data, crs, transform, nodata, names = read_all(scene)
    restored, out_crs, out_transform, out_nodata, out_names = read_all(out)
    assert restored.dtype == np.uint16
    np.testing.assert_array_equal(restored, data)  # every pixel, nodata corner included
    assert (out_crs, out_transform, out_nodata, out_names) == (crs, transform, nodata, names)

    # band selection (1-based) and a clear error for a wrong band number
    out2 = str(tmp_path / 'bad.tif')
    assert tool.main([str(config), checkpoint, scene, out2, '--bands', '1', '2', '3', '9',
                      '--no-progress']) == 2
    assert not osp.exists(out2)


def test_integer_output_as_the_prediction_writer_saves_it(scene, tmp_path):
    """Integer scenes are rounded and clipped to the scaling's range, exactly as
    tools/test.py --save-preds writes predictions (prediction_writer.to_dataset_units)."""
    from crbench.engine.prediction_writer import to_dataset_units
    model = framework('TiledTestIdentityNet')
    with torch.no_grad():
        model.generator.conv.weight.mul_(2)  # predictions beyond [-1, 1]
    out = str(tmp_path / 'doubled.tif')
    restore_scene(model, scene, out, in_scaling=SCALE, tile=256, overlap=32, progress=False)
    data, *_ = read_all(scene)
    tiled, *_ = read_all(out)
    valid = ~np.all(data == NODATA, axis=0)
    x = torch.from_numpy(SCALE.forward(data))[None]
    with torch.no_grad():
        pred = model.restore({'cloudy': x})[0].numpy()
    expected = to_dataset_units(pred, SCALE, np.uint16)
    assert tiled.dtype == np.uint16 and tiled[:, valid].max() == 10000
    assert np.abs(tiled[:, valid].astype(int) - expected[:, valid]).max() <= 1


def test_png_scene_and_config_scaling(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(300, 420, 3), dtype=np.uint8)
    src = str(tmp_path / 'scene.png')
    Image.fromarray(rgb).save(src)
    from mmengine.config import Config
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='RescaleToSymmetric', in_range=(0, 255)), dict(type='PackCRInputs')]))))
    in_scaling, out_scaling = scaling_from_config(cfg)
    assert (in_scaling.lo, in_scaling.hi) == (0.0, 255.0) and out_scaling == in_scaling
    out = str(tmp_path / 'out.png')
    restore_scene(framework('TiledTestIdentityNet', channels=3, clamp=True), src, out,
                  in_scaling=in_scaling, tile=128, overlap=16, progress=False)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.png', 'scene.png']  # no temp


def test_refusals(scene, tmp_path):
    model = framework('TiledTestConvNet')
    with pytest.raises(SceneInferenceError, match='overlap'):
        restore_scene(model, scene, str(tmp_path / 'o.tif'), in_scaling=SCALE, tile=64,
                      overlap=40, progress=False)
    with pytest.raises(SceneInferenceError, match='band'):  # 3 bands into a 4-band network
        restore_scene(model, scene, str(tmp_path / 'o.tif'), in_scaling=SCALE, bands=[1, 2, 3],
                      progress=False)
    sar_model = SupervisedRestorer(generator=dict(type='TiledTestConvNet', channels=6),
                                   losses={}, input_keys=('sar', 'cloudy'))
    with pytest.raises(SceneInferenceError, match='mono-temporal'):
        restore_scene(sar_model, scene, str(tmp_path / 'o.tif'), in_scaling=SCALE,
                      progress=False)
    assert not osp.exists(tmp_path / 'o.tif')
    from mmengine.config import Config
    with pytest.raises(SceneInferenceError, match='RescaleToSymmetric'):
        scaling_from_config(Config(dict(test_dataloader=dict(dataset=dict(pipeline=[])))))
