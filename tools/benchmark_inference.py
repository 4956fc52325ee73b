#!/usr/bin/env python
"""Speed-up and prediction change of each inference switch, per network.

    python tools/benchmark_inference.py [--models memorynet msda_cr ...]
        [--size 128] [--repeats 3] [--threads 1] [--switches ...] [--json FILE]

Each model is built from its CUHK-CR2 config (``configs/<model>/<model>_cuhkcr2.py``,
4 bands; seeded random weights, no checkpoint; perceptual losses, which play no
part in inference, are built without their VGG weights file) and restores one fixed seeded
input of ``1×4×size×size`` through ``forward(mode='tensor')`` in eval mode, i.e.
with the model's ``inference_cfg`` switches (crbench/models/restorers/base.py):

* ``baseline``: ``inference_mode`` only (the default of every config);
* ``no_grad``: ``inference_mode=False`` (plain ``torch.no_grad``), for reference;
* ``channels_last``, ``compile`` (torch.compile, inductor), ``channels_last+compile``;
* ``bf16``: ``autocast='bf16'``.

For each switch: the median process CPU time (robust on a shared machine;
with one thread it is the compute time) of ``--repeats`` calls after warm-up
calls (for ``compile`` the first call, which compiles, is timed apart as
``first_call_s``), the speed-up over ``baseline``, the largest absolute change
of the prediction and the change of PSNR (peak 1 on (x+1)/2, the
``sen12mscr_official`` PSNR) against a fixed target, which is what a switch
does to a reported number. EMRDM restores with its sampler (every denoiser
call of the sampling loop), with a fixed sampling seed; CVAE draws its
latent samples after a fixed ``torch.manual_seed`` and is built for ``size``
(its ``image_size``). DE (``configs/de/de_memorynet_cuhkcr2.py``) is timed per
network evaluation, the unit its 50 DDIM steps repeat: CNP + WA + fusion
(DE Eqs. 8-12) at t = 500 from a fixed x_t, with the reference prior computed
once beforehand (random reference weights). Parameters a network initialises
to zero (output layers of the diffusion U-Nets) get seeded random values, so
that a switch's change of the prediction shows.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

MODELS = ('memorynet', 'msda_cr', 'spagan', 'amgan_cr', 'cvae', 'de', 'emrdm')
CONFIGS = dict({m: f'{m}/{m}_cuhkcr2.py' for m in MODELS}, de='de/de_memorynet_cuhkcr2.py')
SWITCHES = {
    'baseline': dict(),
    'no_grad': dict(inference_mode=False),
    'channels_last': dict(channels_last=True),
    'compile': dict(compile=True),
    'channels_last+compile': dict(channels_last=True, compile=True),
    'bf16': dict(autocast='bf16'),
    'fp16': dict(autocast='fp16'),
}
DE_STEP_T = 500


def build(model_name: str, inference_cfg: dict, size: int, workdir: Optional[str] = None,
          bands: Optional[int] = None):
    """The model of ``CONFIGS[model_name]`` in eval mode, seeded; DE needs ``workdir`` for
    its random reference checkpoint; ``bands`` (default: the config's) sets the networks'
    input and output bands."""
    from mmengine.config import Config

    from crbench.analysis.benchmark import without_pretrained_loss_weights
    from crbench.registry import MODELS as REGISTRY
    from crbench.setup_env import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs', CONFIGS[model_name]))
    # inference needs no losses: a perceptual loss builds without its VGG weights file
    model_cfg = dict(without_pretrained_loss_weights(cfg.model.to_dict()),
                     inference_cfg=inference_cfg)
    if bands is not None:
        for net in ('generator', 'discriminator'):
            if net in model_cfg:
                model_cfg[net] = dict(model_cfg[net], in_channels=bands, **(
                    dict(out_channels=bands) if 'out_channels' in model_cfg[net] else {}))
    if 'image_size' in model_cfg.get('generator', {}):  # CVAE: built for one size
        model_cfg['generator'] = dict(model_cfg['generator'], image_size=size)
    if model_cfg.get('type') == 'EMRDM':
        model_cfg['sampling_seed'] = 0
    if model_cfg.get('type') == 'DiffusionEnhancement':
        torch.manual_seed(0)
        reference_path = osp.join(workdir, 'random_reference.pth')
        torch.save(REGISTRY.build(model_cfg['reference']).state_dict(), reference_path)
        model_cfg['reference_checkpoint'] = reference_path
    torch.manual_seed(0)
    model = REGISTRY.build(model_cfg)
    with torch.no_grad():
        for param in model.parameters():
            if param.numel() > 1 and not param.any():  # zero-initialised output layers
                param.normal_(0, 0.02)
    return model.eval()


def timed_call(model, model_name: str, cloudy: torch.Tensor):
    """What one timed call runs: a restoration, or for DE one network evaluation."""
    if model_name != 'de':
        def call():
            torch.manual_seed(0)
            return model({'cloudy': cloudy.clone()}, mode='tensor')
        return call
    g = torch.Generator().manual_seed(2)
    x_t = torch.randn(cloudy.shape, generator=g)
    t = torch.full((cloudy.shape[0],), DE_STEP_T, dtype=torch.long)
    cloudy, x_t = (model._layout(dict(cloudy=v))['cloudy'] for v in (cloudy, x_t))
    with model.inference_context():
        ref = model.reference_prior(cloudy)  # once per image, as in DE sampling

    def call():
        with model.inference_context():
            return model.denoiser(cloudy, ref)(x_t, t).float()
    return call


def psnr01(pred: torch.Tensor, target: torch.Tensor) -> float:
    from crbench.evaluation.functional import psnr
    return float(psnr((pred.double() + 1) / 2, (target.double() + 1) / 2, 1.0)[0])


def run_model(model_name: str, switches, size: int, repeats: int) -> list:
    g = torch.Generator().manual_seed(1)
    target = torch.rand(1, 4, size, size, generator=g) * 2 - 1
    cloudy = (target + 0.5 * torch.rand(1, 1, size, size, generator=g)).clamp(-1, 1)
    rows, base = [], None
    for switch in switches:
        with tempfile.TemporaryDirectory() as workdir:
            model = build(model_name, SWITCHES[switch], size, workdir)
        call = timed_call(model, model_name, cloudy)
        start = time.perf_counter()
        out = call()
        first = time.perf_counter() - start
        call()  # second warm-up (autotuning, allocator)
        times = []
        for _ in range(repeats):
            start = time.process_time()
            out = call()
            times.append(time.process_time() - start)
        row = dict(model=model_name, switch=switch, size=size,
                   time_s=statistics.median(times), first_call_s=first,
                   psnr=psnr01(out, target))
        if base is None:
            base = dict(out=out, time=row['time_s'], psnr=row['psnr'])
        row['speedup'] = base['time'] / row['time_s']
        row['max_abs_change'] = float((out.float() - base['out'].float()).abs().max())
        row['psnr_change'] = row['psnr'] - base['psnr']
        rows.append(row)
        print(json.dumps(row), flush=True)
        del model
    return rows


def natten_status() -> str:
    try:
        import natten  # noqa: F401
    except Exception as err:  # ImportError or a broken CUDA-only build
        return f'not importable ({type(err).__name__}: {err})'
    return f'importable, version {getattr(natten, "__version__", "?")}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    parser.add_argument('--switches', nargs='+', default=list(SWITCHES), choices=list(SWITCHES))
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    if 'baseline' not in args.switches:
        args.switches.insert(0, 'baseline')
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models:
        rows += run_model(name, args.switches, args.size, args.repeats)
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f'inference switches, 1×4×{args.size}², {args.threads} thread(s), '
                  f'median of {args.repeats} (process CPU time)')
    for col in ('model', 'switch', 'time s', 'speed-up', 'first call s', 'max |Δpred|',
                'ΔPSNR dB'):
        table.add_column(col, justify='left' if col in ('model', 'switch') else 'right')
    for r in rows:
        table.add_row(r['model'], r['switch'], f"{r['time_s']:.3f}", f"{r['speedup']:.2f}×",
                      f"{r['first_call_s']:.1f}", f"{r['max_abs_change']:.1e}",
                      f"{r['psnr_change']:+.4f}")
    Console(width=120).print(table)
    print(f'natten: {natten_status()}')
    if args.json:
        from crbench.analysis.benchmark import write_json
        write_json(dict(rows=rows, threads=args.threads, natten=natten_status(),
                        torch=torch.__version__), args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
