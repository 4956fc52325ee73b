"""Measure the cost of a model: parameters, MACs, latency, peak memory, sampling time.

Entry point: ``tools/benchmark.py CONFIG...``; one JSON per config in
``leaderboard/efficiency/``, which ``tools/leaderboard.py`` shows beside the
papers' numbers (``leaderboard/reported_efficiency.csv``).

What is measured, and how
-------------------------
* Input: batch 1, ``num_bands`` bands (from the dataset base config), ``size``
  x ``size`` pixels (256 by default, as EMRDM App. C.2); ``num_frames`` frames
  when the dataset config defines it (multi-temporal), plus a ``sar_bands``
  SAR input when it defines that. Values are uniform in [-1, 1] (seeded):
  costs do not depend on them.
* Parameters: those of the modules that run during inference (forward hooks
  record which modules are called), so loss networks and GAN discriminators
  are not counted.
* MACs (``macs_G``, breakdown ``macs_by_op_G``): ``FlopCounterMode`` FLOPs / 2
  of one call; ``macs_G_paper_convention`` (and ``..._shared_once``): the same
  call counted by the rules of thop's ``profile``, which the papers use
  (:mod:`crbench.analysis.flops`, one extra call of the model).
* Parameters (of the modules that run during inference), latency (median of
  ``repeats`` calls in eval mode after the memory and counting calls and
  ``warmup`` further calls) and peak memory of the first call:
  :mod:`crbench.analysis.profiling`. Timings depend on the machine, the load
  and ``torch.get_num_threads()`` (all recorded).

Diffusion models
----------------
``DiffusionEnhancement`` (DE) is benchmarked network by network, because its
frozen reference network E needs a trained checkpoint that may not exist yet
(the weights do not change the cost, so they are left random; the JSON says
whether the configured checkpoint exists):

* ``components``: CNP (noise predictor), WA (weight network) and the
  reference network, each measured alone.
* Top-level ``params`` / ``macs`` / ``latency_ms``: one network evaluation,
  CNP + WA (one sampling step), without the reference network, which is how
  DE Table X and EMRDM Table 6 count DE (CNP + WA = 36.80 M parameters).
  ``params_with_reference`` adds E.
* ``sampling``: per image. The number of network evaluations (NFE) is counted
  by running the configured sampler with a stub denoiser; then
  ``macs = reference + NFE x (CNP + WA)`` and, labelled
  ``method='estimate'``, ``latency_ms = reference latency + NFE x step latency``
  (the sampler's own elementwise work is ignored). With ``full_sampling=True``
  the whole framework samples for real (the reference loaded from its
  checkpoint, or from random weights written to a temporary file when the
  checkpoint is missing) and ``sampling.measured`` holds the measured latency
  and MACs; at 256 x 256 this takes minutes on a CPU.

Any other framework is measured through ``restore(inputs)``, i.e. one whole
inference per image; for a diffusion framework that is the full sampling loop,
recorded as ``sampling.method='measured'``.
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp
import platform
import statistics
import tempfile
import time
from collections import Counter
from typing import Dict, Sequence

import torch

from crbench.results import device_name
from .flops import count_macs
from .profiling import measure, measure_latency

SCHEMA_VERSION = 1
KIND = 'efficiency'


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------

def _register():
    from crbench.setup_env import register_all_modules
    register_all_modules()


def input_spec(cfg, size: int) -> Dict[str, tuple]:
    """Shapes of the inputs of one sample, batch 1, from the dataset base config."""
    if 'num_bands' not in cfg:
        raise KeyError('the config (its dataset base config) defines no num_bands; '
                       'see docs/contracts.md, Configs')
    # Sen2_MTC_New: 4 cloudy bands per date, 3 target bands (num_bands)
    bands = int(cfg.get('cloudy_bands') or cfg.num_bands)
    frames = cfg.get('num_frames')
    cloudy = (1, int(frames), bands, size, size) if frames else (1, bands, size, size)
    spec = {'cloudy': cloudy}
    model_keys = tuple(cfg.model.get('input_keys', ()) or ())
    if cfg.get('sar_bands') and ('sar' in model_keys or not model_keys):
        spec['sar'] = (1, int(cfg.sar_bands), size, size)
    return spec


def make_inputs(spec: Dict[str, tuple], device, seed: int = 0) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(shape, generator=g) * 2 - 1).to(device) for k, shape in spec.items()}


def model_key(cfg, config_path: str) -> str:
    name = cfg.get('model_name')
    if name:
        return str(name)
    return osp.splitext(osp.basename(config_path))[0].split('_')[0]


def _is_de(model_cfg) -> bool:
    from crbench.registry import MODELS
    from crbench.models.diffusion.de import DiffusionEnhancement
    cls = MODELS.get(model_cfg['type'])
    return isinstance(cls, type) and issubclass(cls, DiffusionEnhancement)


def _provenance() -> dict:
    from crbench.results import git_commit
    from crbench.version import __version__
    return dict(crbench_version=__version__, git_commit=git_commit() or '',
                torch_version=torch.__version__, threads=torch.get_num_threads(),
                machine=f'{platform.machine()} {platform.processor()}'.strip(),
                python=platform.python_version())


def _relpath(path: str) -> str:
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = osp.abspath(path)
    return osp.relpath(path, repo) if path.startswith(repo + os.sep) else path


def benchmark_config(config: str, size: int = 256, repeats: int = 5, warmup: int = 1,
                     device: str = 'cpu', full_sampling: bool = False, seed: int = 0) -> dict:
    """Benchmark the model of ``config`` (see the module docstring). Returns the JSON dict."""
    if size < 1 or repeats < 1 or warmup < 0:
        raise ValueError('size and repeats must be >= 1 and warmup >= 0')
    from crbench.apis import load_config
    _register()
    cfg = load_config(config)
    dev = torch.device(device)
    spec = input_spec(cfg, size)
    inputs = make_inputs(spec, dev, seed)
    record = dict(
        schema_version=SCHEMA_VERSION, kind=KIND, model=model_key(cfg, config),
        config=_relpath(config), dataset=str(cfg.get('dataset_name', '')),
        framework=str(cfg.model['type']), size=size,
        input_shapes={k: list(v) for k, v in spec.items()},
        device=device, device_name=device_name(dev), repeats=repeats, warmup=warmup)
    torch.manual_seed(seed)
    if _is_de(cfg.model):
        record.update(_benchmark_de(cfg, inputs, dev, repeats, warmup, full_sampling))
    else:
        record.update(_benchmark_restorer(cfg, inputs, dev, repeats, warmup))
    record.update(_provenance())
    record['date'] = time.strftime('%Y-%m-%dT%H:%M:%S%z')
    return record


def without_pretrained_loss_weights(node):
    """Let training-only loss networks (VGG perceptual) build without their weights
    file: they are not part of inference and are excluded from every count here."""
    if isinstance(node, dict):
        if node.get('type') == 'VGGPerceptualLoss':
            node['allow_random'] = True
        for value in node.values():
            without_pretrained_loss_weights(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            without_pretrained_loss_weights(value)
    return node


def _benchmark_restorer(cfg, inputs, dev, repeats, warmup) -> dict:
    from crbench.registry import MODELS
    model_cfg = without_pretrained_loss_weights(cfg.model.to_dict())
    model = MODELS.build(model_cfg).to(dev).eval()

    def run():
        return model.restore(inputs)

    m = measure(run, model, dev, repeats, warmup)
    out = dict(m, notes='one restore() call per image')
    if hasattr(model, 'sampler'):
        out['sampling'] = dict(method='measured', latency_ms=m['latency_ms'],
                               macs=m['macs'], macs_G=m['macs_G'],
                               note='restore() runs the whole sampler')
        out['notes'] = 'one restore() call per image, including the whole sampling loop'
    return out


def count_nfe(sampler, process, shape: Sequence[int]) -> int:
    """Denoiser calls the sampler makes for one image (stub denoiser, tiny tensors)."""
    calls = [0]

    def stub(x_t, t):
        calls[0] += 1
        return torch.zeros_like(x_t)

    sampler(stub, torch.zeros(tuple(shape)), process, generator=torch.Generator().manual_seed(0))
    return calls[0]


def _benchmark_de(cfg, inputs, dev, repeats, warmup, full_sampling) -> dict:
    from crbench.registry import MODELS
    mcfg = cfg.model
    fusion = mcfg.get('fusion', 'wa')
    cloudy = inputs['cloudy']
    b, _, h, w = cloudy.shape
    cnp = MODELS.build(mcfg['cnp']).to(dev).eval()
    out_bands = getattr(cnp, 'out_channels', cloudy.shape[1])
    x_t = torch.randn((b, out_bands, h, w), generator=torch.Generator().manual_seed(1)).to(dev)
    t = torch.full((b,), 999, dtype=torch.long, device=dev)
    comps, fns = {}, {}
    comps['cnp'] = measure(lambda: cnp(x_t, t, cloudy), cnp, dev, repeats, warmup)
    if fusion != 'none':
        reference = MODELS.build(mcfg['reference']).to(dev).eval()
        with torch.no_grad():
            ref_out = reference((cloudy + 1) / 2)
        if isinstance(ref_out, (tuple, list)):
            ref_out = ref_out[mcfg.get('reference_output_index', -1)]
        ref_out = (ref_out * 2 - 1).detach()
        if fusion == 'wa':
            wa = MODELS.build(mcfg['weight_net']).to(dev).eval()
            comps['weight_net'] = measure(lambda: wa(x_t, t, cloudy, ref_out), wa, dev,
                                          repeats, warmup)
            del wa
        comps['reference'] = measure(lambda: reference((cloudy + 1) / 2), reference, dev,
                                     repeats, warmup)
        del reference
    step = [k for k in comps if k != 'reference']
    params = sum(comps[k]['params'] for k in step)
    macs = sum(comps[k]['macs'] for k in step)
    latency = sum(comps[k]['latency_ms'] for k in step)
    by_op = Counter()
    for k in step:
        by_op.update(comps[k]['macs_by_op_G'])
    ref = comps.get('reference')
    paper = {}
    if all('macs_paper_convention' in comps[k] for k in step):
        per_parent = sum(comps[k]['macs_paper_convention'] for k in step)
        paper = dict(macs_paper_convention=per_parent, macs_G_paper_convention=per_parent / 1e9,
                     macs_G_paper_convention_shared_once=sum(
                         comps[k]['macs_G_paper_convention_shared_once'] for k in step))

    # NFE from the configured sampler (a meta-device pure-diffusion copy gives
    # the sampler and the process exactly as the framework builds them)
    with torch.device('meta'):
        bare = MODELS.build(dict(mcfg, fusion='none', stage=1, weight_net=None, reference=None,
                                 reference_checkpoint=None))
    nfe = count_nfe(bare.sampler, bare.process, (1, out_bands, 8, 8))
    sampler_cfg = mcfg.get('sampler') or {}
    sampling = dict(
        method='estimate', sampler=type(bare.sampler).__name__,
        steps=getattr(bare.sampler, 'num_steps', None), nfe=nfe,
        macs=(ref['macs'] if ref else 0) + nfe * macs,
        latency_ms=(ref['latency_ms'] if ref else 0.0) + nfe * latency,
        note='estimate: reference once + NFE x (CNP + WA) forward latency; the '
             "sampler's elementwise work is not included")
    sampling['macs_G'] = sampling['macs'] / 1e9
    del bare
    if sampler_cfg:
        sampling['sampler_cfg'] = dict(sampler_cfg)
    ckpt = mcfg.get('reference_checkpoint')
    out = dict(
        params=params, params_M=params / 1e6, macs=macs, macs_G=macs / 1e9,
        macs_by_op_G=dict(sorted(by_op.items())), **paper, latency_ms=latency,
        peak_memory_MB=max(c['peak_memory_MB'] for c in comps.values()),
        memory_method=comps['cnp']['memory_method'] + '; largest of the networks, which run '
                                                      'one after another',
        components=comps, sampling=sampling, fusion=fusion,
        reference_type=str(mcfg['reference']['type']) if fusion != 'none' else '',
        reference_checkpoint=str(ckpt or ''),
        reference_checkpoint_exists=bool(ckpt and osp.isfile(ckpt)),
        notes=('one network evaluation = CNP + WA (one sampling step), reference excluded as in '
               'DE Table X / EMRDM Table 6; networks measured one by one with random weights'))
    if ref:
        out['params_with_reference'] = params + ref['params']
        out['params_with_reference_M'] = out['params_with_reference'] / 1e6
    if full_sampling:
        sampling['measured'] = _de_full_sampling(cfg, inputs, dev, repeats, warmup)
    return out


def _de_full_sampling(cfg, inputs, dev, repeats, warmup) -> dict:
    """Run the whole DE framework (real sampler loop) and measure it."""
    from crbench.registry import MODELS
    mcfg = dict(cfg.model)
    note = 'reference loaded from its checkpoint'
    with tempfile.TemporaryDirectory() as tmp:
        if mcfg.get('fusion', 'wa') != 'none':
            ckpt = mcfg.get('reference_checkpoint')
            if not (ckpt and osp.isfile(ckpt)):
                ref = MODELS.build(mcfg['reference'])
                ckpt = osp.join(tmp, 'random_reference.pth')
                torch.save(ref.state_dict(), ckpt)
                del ref
                note = 'reference checkpoint missing: random reference weights (same cost)'
            mcfg['reference_checkpoint'] = ckpt
        model = MODELS.build(mcfg).to(dev).eval()

    def run():
        return model.restore(inputs)

    macs, _, _ = count_macs(run)
    times = measure_latency(run, dev, repeats=repeats, warmup=warmup)
    return dict(latency_ms=statistics.median(times), latency_ms_all=times, macs=macs,
                macs_G=macs / 1e9, note=note)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def _clean(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json(record: dict, path: str) -> str:
    """Write ``record`` atomically as standard JSON (NaN and infinities become null);
    every measuring tool's JSON goes through here."""
    from crbench.engine.compat import atomic_write_bytes
    atomic_write_bytes(path, (json.dumps(_clean(record), indent=1) + '\n').encode())
    return path
