"""crbench.apis.init_model / restore on the synthetic CUHK-CR2 twin."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from crbench.apis import init_model, restore
from crbench.engine import WeightsMismatchError
from crbench.datasets.synthetic import write_cuhk
from crbench.datasets.transforms.loading import ImageReadError, read_band_stack
from crbench.inference.api import RestoreError

CONFIG = 'configs/memorynet/memorynet_cuhkcr2.py'
TINY = {'model.generator.n_feat': 8, 'model.generator.scale_unetfeats': 4,
        'model.generator.scale_orsnetfeats': 4, 'model.generator.num_cab': 1}


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A 32-px CUHK-CR2 twin (2 test images) and a saved tiny MemoryNet."""
    root = tmp_path_factory.mktemp('api')
    top = write_cuhk(str(root / 'data'), 'CUHK-CR2', {'train': 1, 'test': 2}, size=32)
    torch.manual_seed(0)
    model = init_model(CONFIG, cfg_options=TINY)
    checkpoint = str(root / 'tiny.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return dict(data_root=osp.join(top, 'CUHK-CR2'), nir_root=osp.join(top, 'nir', 'CUHK-CR2'),
                checkpoint=checkpoint, root=root)


@pytest.fixture(scope='module')
def model(setup):
    return init_model(CONFIG, setup['checkpoint'], cfg_options=TINY)


def cloudy_stack(setup, name):
    """The 4-band cloudy image as the dataset stores it (RGB file + NIR file), H×W×4."""
    return read_band_stack([osp.join(setup['data_root'], 'test', 'cloud', name),
                            osp.join(setup['nir_root'], 'test', 'cloud', name)],
                           [[0, 1, 2], [0]])


def test_path_array_tensor_and_folder_agree(setup, model):
    by_path = restore(model, osp.join(setup['data_root'], 'test', 'cloud', '1.png'))
    assert by_path.shape == (16, 16, 4) and by_path.dtype == np.uint8  # 0.5× resize, uint8
    by_array = restore(model, cloudy_stack(setup, '1.png'))
    np.testing.assert_array_equal(by_array, by_path)
    tensor = torch.from_numpy(cloudy_stack(setup, '1.png')).movedim(-1, 0)
    by_tensor = restore(model, tensor)
    assert isinstance(by_tensor, torch.Tensor) and by_tensor.shape == (4, 16, 16)
    np.testing.assert_array_equal(by_tensor.movedim(0, -1).numpy(), by_path)
    batch = restore(model, torch.stack([tensor, tensor]))
    assert batch.shape == (2, 4, 16, 16)
    folder = restore(model, setup['data_root'])
    assert sorted(folder) == ['1', '2']
    np.testing.assert_array_equal(folder['1'], by_path)
    image_folder = restore(model, osp.join(setup['data_root'], 'test', 'cloud'))
    np.testing.assert_array_equal(image_folder['2'], folder['2'])


def test_float_output_rounds_to_the_integer_output(setup, model):
    image = cloudy_stack(setup, '2.png')
    exact = restore(model, image, as_float=True)
    assert exact.dtype == np.float64
    np.testing.assert_array_equal(np.clip(np.round(exact), 0, 255).astype(np.uint8),
                                  restore(model, image))


def test_weights_change_the_result(setup, model):
    other = init_model(CONFIG, cfg_options=TINY)  # fresh random weights
    image = cloudy_stack(setup, '1.png')
    assert not np.array_equal(restore(other, image, as_float=True),
                              restore(model, image, as_float=True))


def test_strict_loading_names_the_keys(setup):
    state = torch.load(setup['checkpoint'], weights_only=True)['state_dict']
    dropped = sorted(state)[0]
    del state[dropped]
    state['generator.not_a_weight'] = torch.zeros(1)
    broken = str(setup['root'] / 'broken.pth')
    torch.save({'state_dict': state}, broken)
    with pytest.raises(WeightsMismatchError) as err:
        init_model(CONFIG, broken, cfg_options=TINY)
    assert dropped in str(err.value) and 'generator.not_a_weight' in str(err.value)
    assert broken in str(err.value)
    with pytest.raises(WeightsMismatchError, match='shape mismatch'):
        init_model(CONFIG, setup['checkpoint'],
                   cfg_options=dict(TINY, **{'model.generator.n_feat': 16}))


def test_bad_inputs_are_explained(setup, model, tmp_path):
    rgb_only = tmp_path / 'lonely.png'  # 3 bands, outside any CUHK-CR copy: NIR unknown
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(rgb_only)
    with pytest.raises(RestoreError, match='NIR'):
        restore(model, str(rgb_only))
    with pytest.raises(FileNotFoundError, match='no_such.png'):
        restore(model, str(tmp_path / 'no_such.png'))
    with pytest.raises(RestoreError, match='H×W×C'):
        restore(model, np.zeros((32, 32), np.uint8))
    (tmp_path / 'empty_dir').mkdir()
    with pytest.raises(RestoreError, match='neither'):
        restore(model, str(tmp_path / 'empty_dir'))
    with pytest.raises(RestoreError, match='init_model'):
        restore(torch.nn.Conv2d(4, 4, 1), np.zeros((32, 32, 4)))
    damaged = tmp_path / 'damaged.tif'
    damaged.write_bytes(b'not a tiff' * 8)
    with pytest.raises(ImageReadError, match='damaged.tif'):
        restore(model, str(damaged))


@pytest.mark.slow
def test_restore_equals_test_tool_predictions(setup, model, repo_root, tmp_path):
    """restore() on the dataset root gives the files tools/test.py --save-preds writes."""
    preds = str(tmp_path / 'preds')
    options = [f'{k}={v}' for k, v in TINY.items()] + [
        f'test_dataloader.{k}' for k in ('num_workers=0', 'persistent_workers=False')]
    out = subprocess.run(
        [sys.executable, 'tools/test.py', CONFIG, setup['checkpoint'], '--data-root',
         setup['data_root'], '--work-dir', str(tmp_path / 'work'), '--no-results',
         '--save-preds', preds, '--cfg-options', *options],
        cwd=repo_root, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 0, out.stderr[-3000:]
    restored = restore(model, setup['data_root'])
    for sample_id, pred in restored.items():
        rgb = np.asarray(Image.open(osp.join(preds, f'{sample_id}.png')))
        nir = np.asarray(Image.open(osp.join(preds, f'{sample_id}_NIR.png')))
        np.testing.assert_array_equal(pred, np.concatenate([rgb, nir[:, :, None]], axis=2))


def test_sen12mscr_file_brings_its_sar_and_matches_arrays(tmp_path):
    """A cloudy GeoTIFF of a SEN12MS-CR copy is restored with its SAR partner (two inputs);
    the same arrays given as a dict give the same prediction, in uint16 reflectance ×10⁴."""
    import glob

    import rasterio

    from crbench.datasets.synthetic.sen12mscr import write_sen12mscr
    root = write_sen12mscr(str(tmp_path), scenes={'ROIs1158_spring': [31]},
                           patches_per_scene=1, size=16)
    model = init_model('configs/spagan/spagan_sen12mscr.py')  # random weights: path plumbing only
    (cloudy, ) = glob.glob(osp.join(root, '*_s2_cloudy', '*', '*.tif'))
    (sar, ) = glob.glob(osp.join(root, '*_s1', '*', '*.tif'))
    by_path = restore(model, cloudy)
    assert by_path.shape == (16, 16, 13) and by_path.dtype == np.uint16
    with rasterio.open(cloudy) as c, rasterio.open(sar) as s:
        arrays = {'cloudy': np.moveaxis(c.read(), 0, -1), 'sar': np.moveaxis(s.read(), 0, -1)}
    np.testing.assert_array_equal(restore(model, arrays), by_path)
    with pytest.raises(RestoreError, match='sar'):
        restore(model, arrays['cloudy'])  # the SAR input is missing


def test_a_png_outside_any_dataset_is_read_as_one_image(tmp_path):
    """RICE models read 3 bands: a lone PNG is restored as the array it holds."""
    model = init_model('configs/spagan/spagan_rice1.py')
    image = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / 'scene.png')
    by_path = restore(model, str(tmp_path / 'scene.png'))
    assert by_path.shape == (16, 16, 3)  # the RICE test pipeline halves the image
    np.testing.assert_array_equal(by_path, restore(model, image))
    assert list(restore(model, str(tmp_path))) == ['scene']
