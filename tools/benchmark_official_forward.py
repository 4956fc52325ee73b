#!/usr/bin/env python
"""Forward time of crbench's networks against the official implementations, same weights.

    python tools/benchmark_official_forward.py --official-root /path/to/collection-clone
        [--networks memorynet msda_cr spagan amgan_cr cvae] [--size 256] [--bands 4]
        [--repeats 5] [--threads 1] [--seed 0] [--json FILE]

``--official-root`` is a local clone of littlebeen/Cloud-removal-model-collection (or
the environment variable ``CRBENCH_OFFICIAL_COLLECTION``). Its code is imported from
there at run time and is never part of crbench (licence). Per network:

1. The official generator is built from the clone, seeded (``torch.manual_seed(--seed)``)
   with the arguments of the collection's test script, in eval mode.
2. Its state dict goes through crbench's converter
   (``crbench/converters/collection.py``: ``generator_config`` and ``convert_network``)
   and is loaded strictly into the generator of crbench's CUHK-CR2 model
   (``configs/<net>/<net>_cuhkcr2.py``, built by ``tools/benchmark_inference.py``'s
   ``build``), once plain (``baseline``: ``inference_mode``) and once with
   ``inference_cfg=dict(channels_last=True)``.
3. One seeded image in the official value range [0, 1] (``1 x bands x size x size``)
   is given to the official network as is; crbench gets the same image in its own
   [-1, 1] convention (``model.range.from_network``), so both generators see the
   identical tensor. crbench is called through ``model(dict(cloudy=x), mode='tensor')``
   in eval mode, the official network directly, under ``torch.inference_mode``; the
   CVAE draws its latent sample after ``torch.manual_seed(--seed)`` in both.
4. Time: process CPU time (``time.process_time``) of ``--repeats`` calls per
   implementation after one warm-up call each; the calls alternate between the
   implementations (each round starting with the next one) so that load on the machine
   hits all of them alike; the median is reported, and the ratio crbench / official
   (below 1: crbench is faster).
5. ``max |Δ|``: largest absolute difference of the outputs in the official evaluation's
   value range: the official ``eval.py`` scores ``(out * 255).clamp(0, 255)``, i.e. the
   image clamped to [0, 1] (MemoryNet's official forward clamps to [0, 1] itself in eval
   mode); both outputs are clamped to [0, 1] and compared in [0, 1] units, without the
   uint8 rounding, which would hide small differences. The JSON also records the share
   of official output values strictly inside (0, 1) (``fraction_inside_range``), where
   the clamp hides nothing.

Bands: ``--bands`` (4, CUHK-CR2's R, G, B, NIR) unless the official network does not
run with them; then both run with 3 bands and the row says why (the official CVAE
decoder is built for 3 bands only). The official CVAE is also fixed at 256 x 256 inputs,
so at other sizes its row is skipped. A network whose official code is missing or
fails to import, build or run is reported as a skipped row with the reason (exit 0).

The official AMGAN-CR moves tensors to the GPU unconditionally (``.cuda()``,
``.type(torch.cuda.FloatTensor)``); its calls run inside :func:`cuda_calls_stay_on_cpu`,
which turns those into CPU no-ops while the official code runs. This tool times CPUs only.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import os
import os.path as osp
import statistics
import sys
import time
import types
import warnings
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402
from torch import nn  # noqa: E402

NETWORKS = ('memorynet', 'msda_cr', 'spagan', 'amgan_cr', 'cvae')
OFFICIAL_REPO = 'littlebeen/Cloud-removal-model-collection'
ROOT_ENV = 'CRBENCH_OFFICIAL_COLLECTION'
# Package name the clone is imported under: keeps its generic top-level name ``model``
# out of ``sys.modules`` and off ``sys.path``.
OFFICIAL_PACKAGE = '_crbench_official_collection'
FALLBACK_BANDS = 3
COMPARED_IN = '[0, 1] (official eval.py clamp, no uint8 rounding)'


class OfficialSpec(NamedTuple):
    module: str                                  # inside the clone, dotted
    build: Callable[[types.ModuleType, int], nn.Module]
    fixed_size: Optional[int] = None             # the official network runs at this size only


# Constructor arguments as the collection's test script passes them.
OFFICIAL = {
    'memorynet': OfficialSpec('model.mn.model', lambda m, bands: m.MPRNet(in_c=bands, out_c=bands)),
    'msda_cr': OfficialSpec('model.msda.model', lambda m, bands: m.Generate_quarter(
        in_channels=bands, height=3, width=6, num_dense_layer=4, growth_rate=16)),
    'spagan': OfficialSpec('model.models_spagan.gen.SPANet',
                           lambda m, bands: m.Generator(gpu_ids=[], channel=bands)),
    'amgan_cr': OfficialSpec('model.models_amgan_cr.gen.AMGAN',
                             lambda m, bands: m.Generator(in_ch=bands, out_ch=bands, gpu_ids=[])),
    'cvae': OfficialSpec('model.cvae.network', lambda m, bands: m.VAE(in_channels=bands),
                         fixed_size=256),
}


class OfficialFailure(RuntimeError):
    """The official code could not be imported, built or run."""


# ------------------------------------------------------------------------------------------
# official code: import from the clone, run on the CPU
# ------------------------------------------------------------------------------------------
def official_root_problem(root: Optional[str]) -> Optional[str]:
    """Why ``root`` cannot be the official clone, or None."""
    if not root:
        return f'no --official-root given (nor ${ROOT_ENV}); pass a clone of {OFFICIAL_REPO}'
    if not osp.isdir(root):
        return f'official root {root} not found (expected a clone of {OFFICIAL_REPO})'
    if not osp.isdir(osp.join(root, 'model')):
        return f'official root {root} has no model/ folder; is it a clone of {OFFICIAL_REPO}?'
    return None


def import_official(root: str, module: str) -> types.ModuleType:
    """Import ``module`` (e.g. ``model.mn.model``) from the clone at ``root``."""
    package = sys.modules.get(OFFICIAL_PACKAGE)
    if package is None or list(package.__path__) != [osp.abspath(root)]:
        for name in [n for n in sys.modules if n.split('.')[0] == OFFICIAL_PACKAGE]:
            del sys.modules[name]  # another root imported before: forget its modules
        package = types.ModuleType(OFFICIAL_PACKAGE)
        package.__path__ = [osp.abspath(root)]
        sys.modules[OFFICIAL_PACKAGE] = package
    return importlib.import_module(f'{OFFICIAL_PACKAGE}.{module}')


def _cpu_tensor_type(original):
    def tensor_type(self, dtype=None, non_blocking=False, **kwargs):
        if isinstance(dtype, str) and dtype.startswith('torch.cuda.'):
            dtype = 'torch.' + dtype[len('torch.cuda.'):]
        elif isinstance(dtype, type) and dtype.__module__ == 'torch.cuda':
            dtype = getattr(torch, dtype.__name__)  # torch.cuda.FloatTensor -> torch.FloatTensor
        if dtype is None:
            return original(self)
        return original(self, dtype, non_blocking, **kwargs)
    return tensor_type


@contextlib.contextmanager
def cuda_calls_stay_on_cpu():
    """Inside: ``Tensor.cuda``/``Module.cuda`` return their object unchanged and
    ``Tensor.type(torch.cuda.X)`` converts to the CPU type ``torch.X``, so official code
    that moves tensors to the GPU unconditionally runs on the CPU. Restored on exit."""
    patches = {(torch.Tensor, 'cuda'): lambda self, *args, **kwargs: self,
               (nn.Module, 'cuda'): lambda self, *args, **kwargs: self,
               (torch.Tensor, 'type'): _cpu_tensor_type(torch.Tensor.type)}
    missing = object()
    saved = {key: vars(key[0]).get(key[1], missing) for key in patches}
    try:
        for (cls, name), replacement in patches.items():
            setattr(cls, name, replacement)
        yield
    finally:
        for (cls, name), original in saved.items():
            if original is missing:
                delattr(cls, name)  # the method lives on a base class (torch._C.TensorBase)
            else:
                setattr(cls, name, original)


def build_official(root: str, network: str, bands: int, seed: int) -> nn.Module:
    spec = OFFICIAL[network]
    try:
        module = import_official(root, spec.module)
    except Exception as err:
        raise OfficialFailure(f'cannot import {spec.module} from {root} '
                              f'({type(err).__name__}: {err})') from err
    torch.manual_seed(seed)
    try:
        with cuda_calls_stay_on_cpu():
            return spec.build(module, bands).eval()
    except Exception as err:
        raise OfficialFailure(f'cannot build the official {network} with {bands} bands '
                              f'({type(err).__name__}: {err})') from err


def official_image(output) -> torch.Tensor:
    """The restored image of an official forward: every network of the collection
    returns ``(aux, image)`` in eval mode (what its ``eval.py`` unpacks)."""
    return output[1]


# ------------------------------------------------------------------------------------------
# crbench side
# ------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _benchmark_inference_tool() -> types.ModuleType:
    # tools/ is not a package (and holds names like test.py): load the sibling by path
    spec = importlib.util.spec_from_file_location(
        'crbench_tool_benchmark_inference', osp.join(ROOT, 'tools', 'benchmark_inference.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crbench_models(network: str, official: nn.Module, bands: int,
                   size: int) -> Dict[str, nn.Module]:
    """crbench's model per switch, its generator holding the official weights."""
    from crbench.converters.collection import convert_network, generator_config
    official_state = official.state_dict()
    converted = convert_network(network, official_state,
                                generator_config(network, official_state), 'generator')
    build = _benchmark_inference_tool().build
    models = {}
    for switch, inference_cfg in (('baseline', {}), ('channels_last', dict(channels_last=True))):
        with warnings.catch_warnings():
            # MSDA-CR's perceptual loss is built with a random VGG16; inference never uses it
            warnings.filterwarnings('ignore', message='VGGPerceptualLoss uses a RANDOM VGG16')
            model = build(network, inference_cfg, size, bands=bands)
        model.generator.load_state_dict(converted, strict=True)
        models[switch] = model.eval()
    return models


# ------------------------------------------------------------------------------------------
# measurement helpers
# ------------------------------------------------------------------------------------------
def alternating_times(calls: Dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                      clock: Callable[[], float] = time.process_time
                      ) -> Tuple[Dict[str, object], Dict[str, List[float]]]:
    """(output of each call's first warm-up call, its ``repeats`` timed durations).

    Round ``i`` calls every implementation once, starting with the ``i``-th (cyclic),
    so none always runs first and machine noise falls on all of them alike."""
    names = list(calls)
    first = {}
    for _ in range(warmup):
        for name in names:
            out = calls[name]()
            first.setdefault(name, out)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for i in range(repeats):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = clock()
            calls[name]()
            times[name].append(clock() - start)
    return first, times


def in_official_eval_range(image: torch.Tensor) -> torch.Tensor:
    """What the official evaluation scores, in [0, 1] units (module docstring, 5)."""
    return image.detach().float().clamp(0, 1)


def max_abs_difference(official_out: torch.Tensor, crbench_pred: torch.Tensor,
                       network_range) -> float:
    """Largest |official - crbench| in the official evaluation's range; ``crbench_pred``
    is in crbench's [-1, 1] and mapped back with the model's ``RangeMap``."""
    ours = in_official_eval_range(network_range.to_network(crbench_pred.float()))
    return float((in_official_eval_range(official_out) - ours).abs().max())


def fraction_inside_range(official_out: torch.Tensor) -> float:
    """Share of official output values strictly inside (0, 1), where the clamp of the
    comparison hides no difference (random weights put many values outside)."""
    values = official_out.detach().float()
    return float(((values > 0) & (values < 1)).float().mean())


def seeded_image(bands: int, size: int, seed: int) -> torch.Tensor:
    """The shared input in the official range [0, 1]."""
    return torch.rand(1, bands, size, size, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------
# one network
# ------------------------------------------------------------------------------------------
def skipped_row(network: str, bands: Optional[int], size: int, reason: str) -> dict:
    return dict(network=network, bands=bands, size=size, status='skipped', reason=reason)


def official_runs(official: nn.Module, image: torch.Tensor) -> Optional[str]:
    """None if the official network restores ``image``, else why not."""
    try:
        with torch.inference_mode(), cuda_calls_stay_on_cpu():
            official_image(official(image))
    except Exception as err:
        return f'{type(err).__name__}: {str(err).splitlines()[0][:160]}'
    return None


def measure_network(network: str, root: str, bands: int, size: int, repeats: int,
                    seed: int) -> dict:
    spec = OFFICIAL[network]
    if spec.fixed_size and size != spec.fixed_size:
        return skipped_row(network, bands, size, f'the official network runs at '
                           f'{spec.fixed_size}x{spec.fixed_size} only (fixed layer sizes); '
                           f'use --size {spec.fixed_size}')
    note = ''
    try:
        official = build_official(root, network, bands, seed)
        # checked once up front (an extra untimed call): a network that fails with
        # these bands runs with 3 bands on both sides instead
        failure = official_runs(official, seeded_image(bands, size, seed))
        if failure and bands != FALLBACK_BANDS:
            note = (f'official code fails with {bands} bands ({failure}); '
                    f'{FALLBACK_BANDS} bands for both')
            bands = FALLBACK_BANDS
            official = build_official(root, network, bands, seed)
            failure = official_runs(official, seeded_image(bands, size, seed))
        if failure:
            raise OfficialFailure(f'the official {network} does not run with {bands} bands '
                                  f'({failure})')
    except OfficialFailure as err:
        return skipped_row(network, bands, size, str(err))
    models = crbench_models(network, official, bands, size)
    image = seeded_image(bands, size, seed)
    cloudy = models['baseline'].range.from_network(image)  # crbench's [-1, 1] convention

    def call_official():
        torch.manual_seed(seed)  # the CVAE's latent sample
        with torch.inference_mode(), cuda_calls_stay_on_cpu():
            return official_image(official(image))

    def crbench_call(model):
        def call():
            torch.manual_seed(seed)
            return model(dict(cloudy=cloudy), mode='tensor')
        return call

    calls = {'official': call_official, 'baseline': crbench_call(models['baseline']),
             'channels_last': crbench_call(models['channels_last'])}
    first, times = alternating_times(calls, repeats)
    median = {name: statistics.median(t) for name, t in times.items()}
    network_range = models['baseline'].range
    return dict(
        network=network, bands=bands, size=size, status='ok', note=note,
        official_s=median['official'], crbench_s=median['baseline'],
        ratio=median['baseline'] / median['official'],
        crbench_channels_last_s=median['channels_last'],
        ratio_channels_last=median['channels_last'] / median['official'],
        max_abs_diff=max_abs_difference(first['official'], first['baseline'], network_range),
        max_abs_diff_channels_last=max_abs_difference(first['official'], first['channels_last'],
                                                      network_range),
        compared_in=COMPARED_IN, fraction_inside_range=fraction_inside_range(first['official']),
        times_s=times)


def benchmark(root: Optional[str], networks=NETWORKS, bands: int = 4, size: int = 256,
              repeats: int = 5, seed: int = 0, progress: Optional[Callable[[dict], None]] = None
              ) -> dict:
    problem = official_root_problem(root)
    rows = []
    for network in networks:
        if problem:
            row = skipped_row(network, bands, size, problem)
        else:
            row = measure_network(network, root, bands, size, repeats, seed)
        rows.append(row)
        if progress:
            progress(row)
    return dict(benchmark='official_forward', official_repo=OFFICIAL_REPO,
                official_root=osp.abspath(root) if root else None,
                config=dict(size=size, bands=bands, repeats=repeats, warmup=1, seed=seed,
                            threads=torch.get_num_threads(), device='cpu',
                            clock='time.process_time', compared_in=COMPARED_IN),
                torch=torch.__version__, rows=rows)


# ------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------
def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def print_table(record: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    cfg = record['config']
    table = Table(title=f"crbench vs official forward, {cfg['threads']} thread(s), median of "
                  f"{cfg['repeats']} (process CPU time), max |Δ| in {cfg['compared_in']}")
    header = ('network', 'bands', 'size', 'official s', 'crbench s', 'crbench / official',
              'channels_last s', 'cl / official', 'max |Δ|', 'max |Δ| cl', 'note')
    for name in header:
        table.add_column(name, justify='left' if name in ('network', 'note') else 'right',
                         overflow='fold')  # a skip reason is shown whole
    for r in record['rows']:
        note = r.get('reason') if r['status'] == 'skipped' else r.get('note', '')
        table.add_row(r['network'], _fmt(r.get('bands'), 'd'), str(r['size']),
                      _fmt(r.get('official_s'), '.3f'), _fmt(r.get('crbench_s'), '.3f'),
                      _fmt(r.get('ratio'), '.2f'), _fmt(r.get('crbench_channels_last_s'), '.3f'),
                      _fmt(r.get('ratio_channels_last'), '.2f'), _fmt(r.get('max_abs_diff'), '.1e'),
                      _fmt(r.get('max_abs_diff_channels_last'), '.1e'),
                      ('skipped: ' if r['status'] == 'skipped' else '') + (note or ''))
    Console(width=max(Console().width, 160)).print(table)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--official-root', default=os.environ.get(ROOT_ENV),
                   help=f'clone of {OFFICIAL_REPO} (default: ${ROOT_ENV})')
    p.add_argument('--networks', nargs='+', choices=NETWORKS, default=list(NETWORKS))
    p.add_argument('--size', type=int, default=256, help='input side (default 256, the papers)')
    p.add_argument('--bands', type=int, default=4, help='input bands (default 4, CUHK-CR2)')
    p.add_argument('--repeats', type=int, default=5, help='timed calls each; the median is kept')
    p.add_argument('--threads', type=int, default=1, help='torch.set_num_threads (default 1)')
    p.add_argument('--seed', type=int, default=0, help='weights, input and CVAE latent seed')
    p.add_argument('--json', help='write the record here')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.repeats < 1 or args.size < 1:
        print('benchmark_official_forward: --repeats and --size must be positive',
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    record = benchmark(args.official_root, tuple(args.networks), args.bands, args.size,
                       args.repeats, args.seed,
                       progress=lambda r: print(f"{r['network']}: {r['status']}", flush=True))
    print_table(record)
    if args.json:
        from crbench.analysis.benchmark import write_json
        print(f'wrote {write_json(record, args.json)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
