"""Scene inference loads weights strictly (crbench.inference.tiled.load_model): the
converter's generator-only output is accepted, an unconverted official file is refused
naming its converter (tools/infer_scene.py exits 2). Real Penn000 SpA-GAN weights
(tests/data/spagan_penn000/SOURCE.md) on a crop of a real RICE1 image."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
from PIL import Image

from crbench.converters.collection import convert
from crbench.engine.compat import atomic_torch_save

FIXTURES = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'spagan_penn000')
OFFICIAL = osp.join(FIXTURES, 'RICE1_gen_model_epoch_200.pth')
CONFIG = 'configs/spagan/spagan_rice1.py'


def run_infer(repo_root, checkpoint, src, dst):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, 'tools/infer_scene.py', CONFIG, checkpoint, src, dst,
                           '--tile', '64', '--overlap', '16', '--no-progress'], cwd=repo_root,
                          capture_output=True, text=True, timeout=600, env=env)


def test_generator_only_checkpoint_runs_and_unconverted_file_is_refused(repo_root, tmp_path):
    crop = tmp_path / 'crop.png'
    Image.open(osp.join(FIXTURES, 'test_0026_cloudy.png')).crop((200, 200, 296, 296)).save(crop)
    converted = str(tmp_path / 'spagan_rice1_penn000.pth')
    checkpoint = convert('spagan', OFFICIAL)
    assert not any(k.startswith('discriminator.') for k in checkpoint['state_dict'])
    atomic_torch_save(checkpoint, converted)

    out = run_infer(repo_root, converted, str(crop), str(tmp_path / 'restored.png'))
    assert out.returncode == 0, out.stderr[-2000:]
    restored = np.asarray(Image.open(tmp_path / 'restored.png'))
    assert restored.shape == (96, 96, 3) and restored.dtype == np.uint8
    assert restored.std() > 1  # a real restoration, not a constant

    out = run_infer(repo_root, OFFICIAL, str(crop), str(tmp_path / 'never.png'))
    assert out.returncode == 2
    assert f'convert_collection.py spagan {OFFICIAL}' in out.stderr
    assert 'Traceback' not in out.stderr
    assert not (tmp_path / 'never.png').exists()
