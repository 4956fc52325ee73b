"""Tiled scene inference keeps peak memory bounded while the scene grows 4×.

Each case runs ``restore_scene`` in a fresh Python process, so the resident-set
high-water mark (``VmHWM``) belongs to that one run. The child first restores a
64×64 scene (loads GDAL drivers, torch kernels), returns freed heap to the kernel
(``malloc_trim``), restarts the high-water mark (``/proc/self/clear_refs``) and
takes the resident set as the base, then restores the measured scene and reports
how far the high-water mark rose above the base. The bound checked is the one
documented in ``crbench/inference/tiled.py`` (strip of tiles + model working set + GDAL's block
cache, capped here with ``GDAL_CACHEMAX``; resident cost up to twice the cap).
Without the cap GDAL's default cache (5 % of RAM) keeps the blocks of the whole
scene: the 4096×1024 run then rises ~120 MB instead of ~40 MB and these tests fail.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

TILE, OVERLAP = 128, 16
BANDS = 4
GDAL_CACHE_MB = 16
MB = 2 ** 20
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = r'''
import ctypes, gc, json, sys
import torch
torch.set_num_threads(1)
from crbench.inference import SymmetricScaling, restore_scene


class ConvNet(torch.nn.Module):
    """Two 3x3 convolutions: a tiny translation-equivariant model."""

    def __init__(self, channels):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(channels, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, channels, 3, padding=1)

    def restore(self, inputs):
        return self.conv2(torch.tanh(self.conv1(inputs['cloudy'])))


def status(key):  # kB
    with open('/proc/self/status') as f:
        return int(next(line.split()[1] for line in f if line.startswith(key + ':'))) * 1024


warm, scene, out, tile, overlap, bands = sys.argv[1:7]
model = ConvNet(int(bands)).eval()
kw = dict(in_scaling=SymmetricScaling(0.0, 10000.0), tile=int(tile), overlap=int(overlap),
          out_dtype='float32', progress=False)
restore_scene(model, warm, out + '.warm.tif', **kw)
# hand freed heap back to the kernel and restart the high-water mark (VmHWM) here, so
# memory freed by imports cannot hide what the run allocates
gc.collect()
ctypes.CDLL('libc.so.6').malloc_trim(0)
try:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
except OSError:
    print(json.dumps(dict(skip='/proc/self/clear_refs is not writable')))
    sys.exit(0)
base = status('VmRSS')
result = restore_scene(model, scene, out, **kw)
print(json.dumps(dict(base=base, peak=status('VmHWM'), n_tiles=result.n_tiles)))
'''


def write_scene(path: str, height: int, width: int) -> str:
    """A smooth 4-band uint16 GeoTIFF (256×256 blocks, uncompressed)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    data = np.stack([5000 + 4000 * np.sin(x / 37.0 + k) * np.cos(y / 53.0 - k)
                     for k in range(BANDS)]).astype(np.uint16)
    profile = dict(driver='GTiff', width=width, height=height, count=BANDS, dtype='uint16',
                   crs='EPSG:32633', transform=Affine(10.0, 0, 500000.0, 0, -10.0, 4600000.0),
                   nodata=0)
    if height >= 256 and width >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, 'w', **profile) as dst:
        dst.write(data)
    return path


def strip_bound(tile: int, width: int, c_in: int, c_out: int, s_in: int, s_out: int) -> int:
    """The strip term of the bound in crbench/inference/tiled.py, in bytes."""
    return tile * width * (4 * (c_out + 1) + (20 + s_out) * c_out + (s_in + 1) * c_in)


@pytest.fixture(scope='module')
def peaks(tmp_path_factory):
    """{case: (rise of the high-water mark in bytes, height, width)}, one process each."""
    folder = tmp_path_factory.mktemp('memory')
    warm = write_scene(str(folder / 'warm.tif'), 64, 64)
    cases = {'1024x1024': (1024, 1024),   # the reference scene
             '4096x1024': (4096, 1024),   # 4× the pixels, same width
             '2048x2048': (2048, 2048)}   # 4× the pixels, twice the width
    env = dict(os.environ, GDAL_CACHEMAX=str(GDAL_CACHE_MB), OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([REPO, os.environ.get('PYTHONPATH', '')]))
    procs = {}
    for name, (h, w) in cases.items():
        scene = write_scene(str(folder / f'{name}.tif'), h, w)
        procs[name] = subprocess.Popen(
            [sys.executable, '-c', CHILD, warm, scene, str(folder / f'out_{name}.tif'),
             str(TILE), str(OVERLAP), str(BANDS)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f'{name}: {err[-2000:]}'
        report = json.loads(out.strip().splitlines()[-1])
        if 'skip' in report:
            pytest.skip(report['skip'])
        results[name] = (report['peak'] - report['base'], *cases[name])
        with rasterio.open(folder / f'out_{name}.tif') as src:  # the output is whole
            assert (src.height, src.width, src.count) == cases[name] + (BANDS,)
    return results


def full_scene_float32(height: int, width: int) -> int:
    return BANDS * height * width * 4


def test_peak_memory_stays_under_the_documented_bound(peaks):
    model_allowance = 8 * MB  # one tile's activations + tensors for the tiny network
    for name, (rise, h, w) in peaks.items():
        bound = (strip_bound(TILE, w, BANDS, BANDS, s_in=2, s_out=4) + model_allowance
                 + 2 * GDAL_CACHE_MB * MB)
        assert rise <= bound, (f'{name}: peak memory rose by {rise / MB:.1f} MB, over the '
                               f'documented bound {bound / MB:.1f} MB')


def test_taller_scene_costs_no_more_memory(peaks):
    """4× the rows at the same width: the strip does not grow, so neither does the peak."""
    ref, tall = peaks['1024x1024'][0], peaks['4096x1024'][0]
    assert tall - ref < 0.25 * full_scene_float32(4096, 1024), \
        f'4× taller scene: peak rose {(tall - ref) / MB:.1f} MB more than for 1024×1024'


def test_4x_larger_scene_grows_memory_far_less_than_4x(peaks):
    """4× the pixels (2× the width): growth well under half of the larger scene in float32."""
    ref, big = peaks['1024x1024'][0], peaks['2048x2048'][0]
    limit = 0.5 * full_scene_float32(2048, 2048)
    assert big - ref < limit, (f'2048×2048 scene: peak rose {(big - ref) / MB:.1f} MB more than '
                               f'for 1024×1024; limit {limit / MB:.0f} MB')
