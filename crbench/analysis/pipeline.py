"""Where a test run spends its time: a per-stage profile of a config's test loop.

    python tools/benchmark_pipeline.py CONFIG [CHECKPOINT] [--synthetic]
        [--num-batches 10] [--workers N] [--batch-size N] [--device cpu]
        [--data-root DIR] [--split-size N] [--json FILE] [--no-write]

It runs the config's own test dataloader, model, evaluator and prediction
writer on the first ``--num-batches`` batches and times, per batch:

* ``data``: waiting for the next batch of the dataloader (reading, decoding and
  the pipeline transforms; with workers, only the time the loop waits);
* ``preprocess``: the model's data preprocessor (stacking, casting, moving);
* ``forward``: ``model(mode='predict')`` with the model's ``inference_cfg``
  (for DE and EMRDM the whole sampling loop; the number of network calls per
  batch, i.e. the NFE, is counted with forward hooks, so the time of one
  sampling step is ``forward / NFE``);
* ``metrics``: the evaluator's ``process`` (the protocol's per-image metrics);
* ``write``: writing every prediction as the dataset's file format
  (``PredictionWriterHook.write``) into a temporary folder.

End to end, ``images_per_s`` is images over the wall time of the timed batches
(the first batch, which pays for worker start-up and lazy initialisation, is
timed apart as ``warmup_s``); ``other_s`` is the loop time outside the five
stages. ``split`` extrapolates the time of a whole test split: the dataset's
length, or ``--split-size``, or with ``--synthetic`` the size of the real test
split (docs/datasets.md). ``--synthetic`` writes a synthetic twin of the
config's test dataset into a temporary folder (removed afterwards) and runs on
it; the JSON then says ``"synthetic": true``.
"""
from __future__ import annotations

import argparse
import os.path as osp
import shutil
import sys
import tempfile
import time
from collections import Counter
from typing import Dict, List, Optional

import torch
from mmengine.config import DictAction

from crbench.datasets.cuhk_cr import PUBLISHED_COUNTS as CUHK_COUNTS
from crbench.datasets.sen12mscr import PUBLISHED_COUNTS as SEN12MSCR_COUNTS
from crbench.datasets.sen2mtc import PUBLISHED_COUNTS as SEN2MTC_COUNTS
from .profiling import sync_device

STAGES = ('data', 'preprocess', 'forward', 'metrics', 'write')

# Real test-split sizes (the datasets' published counts, docs/datasets.md §2–§5), for
# the extrapolation on synthetic data. RICE1: its shipped 8:2 split (100 test ids);
# RICE2's split depends on the release (§3), so it is absent.
REAL_TEST_SIZES = {**{name: c['test'] for name, c in CUHK_COUNTS.items()}, 'RICE1': 100,
                   'SEN12MS-CR': SEN12MSCR_COUNTS['exact']['test'],
                   'Sen2_MTC_New': SEN2MTC_COUNTS['test']}


class PipelineError(RuntimeError):
    """A bad argument or config; the message says what to do (exit code 2)."""


# ---------------------------------------------------------------- data
def dataset_identity(dataset_cfg: dict) -> Dict[str, Optional[str]]:
    """(writer key of tools/make_synthetic_data.py, real dataset name)."""
    kind = dataset_cfg.get('type')
    if kind == 'CUHKCRDataset':
        name = dataset_cfg.get('dataset_name', 'CUHK-CR2')
        return dict(writer=name.lower().replace('-', '_'), name=name)
    if kind == 'RICEDataset':
        version = int(dataset_cfg.get('version', 1))
        return dict(writer=f'rice{version}', name=f'RICE{version}')
    if kind == 'SEN12MSCRDataset':
        return dict(writer='sen12mscr', name='SEN12MS-CR')
    if kind == 'Sen2MTCNewDataset':
        return dict(writer='sen2mtc_new', name='Sen2_MTC_New')
    raise PipelineError(f'no synthetic twin for dataset type {kind!r}; run on real data '
                        '(--data-root) instead of --synthetic')


def write_synthetic_twin(dataset_cfg: dict, out_dir: str, num_test: int,
                         size: Optional[int] = None) -> str:
    """Write the synthetic twin of ``dataset_cfg`` and return its data_root."""
    from crbench.datasets.synthetic import write_synthetic
    ident = dataset_identity(dataset_cfg)
    if ident['writer'].startswith('cuhk_cr'):
        counts = dict(train=2, test=max(1, num_test))
    elif ident['writer'].startswith('rice'):
        # RICE's split is computed (8:2): write enough pairs for num_test test images
        counts = dict(train=4 * num_test, test=num_test)
    else:
        # SEN12MS-CR / Sen2_MTC_New write ceil(train / 2) patches per scene or tile
        counts = dict(train=2 * num_test, test=num_test)
    return write_synthetic(ident['writer'], out_dir, counts, size, seed=0)


# ------------------------------------------------------------- counting
class CallCounter:
    """Counts forward calls of the model's child networks (the NFE)."""

    def __init__(self, model: torch.nn.Module):
        self.counts: Counter = Counter()
        self.handles = []
        for name, module in model.named_children():
            if name == 'data_preprocessor' or not any(True for _ in module.parameters()):
                continue
            self.handles.append(module.register_forward_pre_hook(self._hook(name)))

    def _hook(self, name):
        def hook(module, args):
            self.counts[name] += 1
        return hook

    def take(self) -> Dict[str, int]:
        counts, self.counts = dict(self.counts), Counter()
        return counts

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


# ------------------------------------------------------------- profile
def profile(cfg, checkpoint: Optional[str] = None, num_batches: int = 10,
            device: str = 'cpu', write: bool = True,
            split_size: Optional[int] = None, synthetic: bool = False,
            real_name: Optional[str] = None) -> dict:
    """Profile ``cfg``'s test loop (see the module docstring); returns the JSON dict."""
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner

    from crbench.engine.prediction_writer import PredictionWriterHook, find_value_range
    from crbench.inference.api import init_model

    if checkpoint and not osp.isfile(checkpoint):
        raise PipelineError(f'checkpoint {checkpoint!r} does not exist')
    dev = torch.device(device)
    # crbench's strict loader, as tools/test.py: converted (generator-only) files load too
    model = init_model(cfg, checkpoint or None, device)
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
    out_dir = tempfile.mkdtemp(prefix='crbench_profile_pred_')
    writer = None
    if write:
        pipeline = cfg.test_dataloader['dataset'].get('pipeline', [])
        writer = PredictionWriterHook(out_dir, find_value_range(pipeline))
    counter = CallCounter(model)
    totals = {s: 0.0 for s in STAGES}
    calls: List[Dict[str, int]] = []
    images = batches = 0
    image_size = None
    warmup_s = 0.0
    try:
        iterator = iter(loader)
        loop_start = None
        for index in range(num_batches + 1):  # batch 0: warm-up, timed apart
            t0 = time.perf_counter()
            try:
                data = next(iterator)
            except StopIteration:
                break
            t1 = time.perf_counter()
            data = model.data_preprocessor(data, False)
            if index == 0:
                image_size = _input_size(data)
            sync_device(dev)
            t2 = time.perf_counter()
            outputs = model(**data, mode='predict')
            sync_device(dev)
            t3 = time.perf_counter()
            evaluator.process(data_samples=outputs, data_batch=data)
            t4 = time.perf_counter()
            if writer is not None:
                for sample in outputs:
                    writer.write(sample)
            t5 = time.perf_counter()
            batch_calls = counter.take()
            if index == 0:
                warmup_s = t5 - t0
                loop_start = time.perf_counter()
                continue
            for stage, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                totals[stage] += dt
            calls.append(batch_calls)
            synthetic = synthetic or any(bool(s.metainfo.get('synthetic')) for s in outputs)
            images += len(outputs)
            batches += 1
        end_to_end = time.perf_counter() - loop_start if loop_start is not None else 0.0
        n_eval = len(evaluator.metrics[0].results) if evaluator.metrics else 0
        metrics = evaluator.evaluate(n_eval) if n_eval else {}
    finally:
        counter.remove()
        shutil.rmtree(out_dir, ignore_errors=True)
    if batches == 0:
        raise PipelineError('the test dataloader gave fewer than 2 batches; the first is a '
                            'warm-up: use more test images or a smaller batch size')
    result = _summary(cfg, checkpoint, dev, loader, totals, end_to_end, warmup_s, images,
                      batches, calls, metrics, split_size, synthetic, real_name)
    result['input_size'] = image_size
    return result


def _input_size(data) -> Optional[List[int]]:
    """H, W of the model's first input tensor (what the network sees)."""
    inputs = data.get('inputs') if isinstance(data, dict) else None
    tensors = list(inputs.values()) if isinstance(inputs, dict) else [inputs]
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.dim() >= 3:
            return list(t.shape[-2:])
    return None


def _summary(cfg, checkpoint, dev, loader, totals, end_to_end, warmup_s, images, batches,
             calls, metrics, split_size, synthetic, real_name) -> dict:
    stages = {s: dict(total_s=t, per_image_ms=1000 * t / images,
                      share=t / end_to_end if end_to_end > 0 else float('nan'))
              for s, t in totals.items()}
    nfe = {}
    for row in calls:
        for name, n in row.items():
            nfe[name] = nfe.get(name, 0) + n
    nfe = {name: n / batches for name, n in nfe.items()}
    main_calls = max(nfe.values()) if nfe else 0
    images_per_s = images / end_to_end if end_to_end > 0 else float('nan')
    if split_size is not None:
        split = dict(images=int(split_size), source='--split-size')
    elif synthetic and real_name in REAL_TEST_SIZES:
        split = dict(images=REAL_TEST_SIZES[real_name], source=f'real {real_name} test split')
    else:
        split = dict(images=len(loader.dataset), source='dataset length')
    split['estimated_s'] = split['images'] / images_per_s
    return dict(
        config=getattr(cfg, 'filename', None), checkpoint=checkpoint, synthetic=bool(synthetic),
        device=str(dev), batch_size=loader.batch_size, num_workers=loader.num_workers,
        torch_threads=torch.get_num_threads(), warmup_batches=1, warmup_s=warmup_s,
        batches=batches, images=images, stages=stages,
        stages_total_s=sum(totals.values()),
        other_s=end_to_end - sum(totals.values()), end_to_end_s=end_to_end,
        images_per_s=images_per_s,
        network_calls_per_batch=nfe,
        forward_per_network_call_ms=(1000 * totals['forward'] / batches / main_calls
                                     if main_calls else None),
        inference_cfg=dict(getattr(cfg.model, 'get', lambda *_: None)('inference_cfg') or {}),
        split=split, metrics={k: float(v) for k, v in metrics.items()
                              if isinstance(v, (int, float))})


# -------------------------------------------------------------- loader only
def loader_throughput(cfg, workers: List[int], num_batches: int) -> List[dict]:
    """Samples/s of the test dataloader alone, for each number of workers.

    The first batch (worker start-up) is timed apart as ``startup_s``; the
    rate is over the next ``num_batches`` batches (fewer if the split ends).
    """
    import copy

    from mmengine.runner import Runner

    from crbench.setup_env import register_all_modules
    register_all_modules()
    rows = []
    for n in workers:
        loader_cfg = copy.deepcopy(cfg.test_dataloader)
        loader_cfg['num_workers'] = n
        loader_cfg['persistent_workers'] = False
        loader = Runner.build_dataloader(loader_cfg)
        start = time.perf_counter()
        iterator = iter(loader)
        samples, startup, cpu_start = 0, None, None
        for index in range(num_batches + 1):
            try:
                batch = next(iterator)
            except StopIteration:
                break
            if index == 0:
                startup = time.perf_counter() - start
                start, cpu_start = time.perf_counter(), time.process_time()
                continue
            samples += len(batch['data_samples'])
        elapsed = time.perf_counter() - start
        # CPU time of this process per sample: the whole pipeline cost with 0
        # workers (with workers, only collation and transfer happen here)
        cpu = (time.process_time() - cpu_start) / samples if samples else None
        del iterator
        rows.append(dict(num_workers=n, samples=samples, seconds=elapsed, startup_s=startup,
                         main_process_cpu_s_per_sample=cpu,
                         samples_per_s=samples / elapsed if samples else float('nan')))
    return rows


def render_loader(rows: List[dict], title: str) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=title)
    for col in ('workers', 'samples', 'samples/s', 'start-up s', 'main-process CPU ms/sample'):
        table.add_column(col, justify='right')
    for r in rows:
        cpu = r['main_process_cpu_s_per_sample']
        table.add_row(str(r['num_workers']), str(r['samples']), f"{r['samples_per_s']:.1f}",
                      f"{r['startup_s']:.2f}" if r['startup_s'] is not None else '',
                      f'{1000 * cpu:.1f}' if cpu is not None else '')
    Console().print(table)


# ----------------------------------------------------------------- output
def render(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    title = (f"{osp.basename(result['config'] or '?')}: {result['images']} images in "
             f"{result['batches']} batches of {result['batch_size']}, "
             f"{result['num_workers']} worker(s), {result['device']}"
             + (' (synthetic data)' if result['synthetic'] else ''))
    table = Table(title=title)
    for col in ('stage', 'total s', 'ms / image', 'share'):
        table.add_column(col, justify='left' if col == 'stage' else 'right')
    for stage, row in result['stages'].items():
        table.add_row(stage, f"{row['total_s']:.3f}", f"{row['per_image_ms']:.1f}",
                      f"{100 * row['share']:.1f}%")
    table.add_row('other', f"{result['other_s']:.3f}",
                  f"{1000 * result['other_s'] / result['images']:.1f}",
                  f"{100 * result['other_s'] / result['end_to_end_s']:.1f}%")
    table.add_row('end to end', f"{result['end_to_end_s']:.3f}",
                  f"{1000 * result['end_to_end_s'] / result['images']:.1f}", '100%',
                  style='bold')
    console = Console()
    console.print(table)
    nfe = result['network_calls_per_batch']
    if nfe:
        console.print('network calls per batch: ' + ', '.join(f'{k} {v:g}' for k, v in
                                                                  nfe.items())
                      + f"; forward per call {result['forward_per_network_call_ms']:.1f} ms")
    split = result['split']
    size = result.get('input_size')
    at = f" at {size[0]}×{size[1]}" if size else ''
    console.print(f"{result['images_per_s']:.2f} images/s end to end{at}; a test split of "
                  f"{split['images']} images ({split['source']}) takes about "
                  f"{_duration(split['estimated_s'])} at this size (warm-up batch: "
                  f"{result['warmup_s']:.1f} s)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f'{seconds:.0f} s'
    if seconds < 7200:
        return f'{seconds / 60:.1f} min'
    return f'{seconds / 3600:.1f} h'


# ------------------------------------------------------------------- CLI
def parse_args(argv=None, prog: str = 'crbench profile'):
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 2)[2])
    parser.add_argument('config', help='a crbench config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='weights to load (default: the config\'s initial weights)')
    parser.add_argument('--synthetic', action='store_true',
                        help='run on a synthetic twin of the test dataset (temporary folder)')
    parser.add_argument('--synthetic-size', type=int, default=None,
                        help='image size on disk of the synthetic twin (default: the real size)')
    parser.add_argument('--data-root', default=None, help='override the test data_root')
    parser.add_argument('--num-batches', type=int, default=10,
                        help='batches to time, after one warm-up batch (default 10)')
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--workers', type=int, nargs='+', default=None,
                        help='dataloader workers (with --data-only: several values, e.g. 0 2 4)')
    parser.add_argument('--data-only', action='store_true',
                        help='time only the test dataloader (samples/s per --workers value)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads')
    parser.add_argument('--split-size', type=int, default=None,
                        help='images of the full test split, for the time estimate')
    parser.add_argument('--no-write', action='store_true', help='skip the write stage')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. model.inference_cfg.channels_last=True')
    parser.add_argument('--json', default=None,
                        help='JSON output (default work_dirs/profile/<config>_pipeline.json)')
    args = parser.parse_args(argv)
    if args.num_batches < 1:
        parser.error('--num-batches must be >= 1')
    return args


def run(args) -> dict:
    from crbench.apis import load_config, set_data_root
    if not osp.isfile(args.config):
        raise PipelineError(f'config {args.config!r} does not exist')
    cfg = load_config(args.config, args.cfg_options)  # misspelt override keys refused
    loader_cfg = cfg.test_dataloader
    if args.batch_size is not None:
        loader_cfg['batch_size'] = args.batch_size
    if args.workers is not None and not args.data_only:
        loader_cfg['num_workers'] = args.workers[0]
        loader_cfg['persistent_workers'] = args.workers[0] > 0 and loader_cfg.get(
            'persistent_workers', False)
    # page-locked batches speed up host-to-GPU copies only; on CPU they cost
    loader_cfg['pin_memory'] = torch.device(args.device).type == 'cuda'
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    tmp, real_name = None, None
    try:
        if args.synthetic:
            real_name = dataset_identity(loader_cfg['dataset'])['name']
            tmp = tempfile.mkdtemp(prefix='crbench_profile_data_')
            need = (args.num_batches + 1) * loader_cfg.get('batch_size', 1)
            set_data_root(cfg, write_synthetic_twin(loader_cfg['dataset'], tmp, need,
                                                    args.synthetic_size))
        elif args.data_root:
            set_data_root(cfg, args.data_root)  # as tools/test.py --data-root
        if args.data_only:
            rows = loader_throughput(cfg, args.workers or [0, 2, 4], args.num_batches)
            return dict(config=args.config, synthetic=bool(args.synthetic),
                        batch_size=loader_cfg.get('batch_size', 1), loader=rows)
        return profile(cfg, args.checkpoint, args.num_batches, args.device,
                       write=not args.no_write, split_size=args.split_size,
                       synthetic=args.synthetic, real_name=real_name)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None, prog: str = 'crbench profile') -> int:
    from crbench.apis import ConfigError
    args = parse_args(argv, prog)
    try:
        result = run(args)
    except (PipelineError, ConfigError, FileNotFoundError, KeyError) as err:
        sys.stderr.write(f'error: {err}\n')
        return 2
    if args.data_only:
        render_loader(result['loader'], f"{osp.basename(args.config)}: test dataloader, "
                      f"batch {result['batch_size']}"
                      + (' (synthetic data)' if result['synthetic'] else ''))
    else:
        render(result)
    suffix = '_loader.json' if args.data_only else '_pipeline.json'
    path = args.json or osp.join(
        'work_dirs', 'profile', osp.splitext(osp.basename(args.config))[0] + suffix)
    from .benchmark import write_json
    write_json(result, path)
    print(f'JSON: {path}')
    return 0
