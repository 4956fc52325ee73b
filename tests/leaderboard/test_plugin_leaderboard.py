"""A plugin outside crbench gets its own leaderboard table and row, no crbench file edited.

The package registers a network, a dataset (with a synthetic twin) and a metric
protocol, and ships a ``metafile.yml`` (display name, order). It is trained and
tested through ``crbench train``/``crbench test``; the regenerated leaderboard
finds the plugin through the run's config (``custom_imports``).
"""
import json
import os.path as osp
import textwrap

import pytest
from helpers import RESIDUAL_NET_PLUGIN, run_python, with_pythonpath

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

PLUGIN = RESIDUAL_NET_PLUGIN + '''
from crbench.datasets import CUHKCRDataset
from crbench.evaluation.protocols import PROTOCOLS, BaseProtocol
from crbench.registry import DATASETS


@DATASETS.register_module()
class MarsCRDataset(CUHKCRDataset):
    """A new benchmark stored in the CUHK-CR layout."""
    OFFICIAL_PROTOCOLS = {'Mars-CR': 'mars_l1'}

    def __init__(self, dataset_name='Mars-CR', **kwargs):
        super().__init__(dataset_name=dataset_name, **kwargs)


class MarsL1Protocol(BaseProtocol):
    name = 'mars_l1'
    metrics = {'MarsL1': False}

    def compute(self, pred, gt):
        return {'MarsL1': (pred.double() - gt.double()).abs().flatten(1).mean(1) / 2}


PROTOCOLS[MarsL1Protocol.name] = MarsL1Protocol


def write_synthetic(root):
    """The dataset's synthetic twin (procedural images in its layout)."""
    from crbench.datasets.synthetic import write_cuhk
    return osp.join(write_cuhk(root, 'CUHK-CR2', {'train': 2, 'test': 2}, size=32), 'CUHK-CR2')


import os.path as osp  # noqa: E402
'''

METAFILE = '''
Collections:
- Name: Tiny Residual Net (plugin)
  Key: tiny_residual
  Order: 5
  Paper: {Title: 'A plugin baseline', URL: null}
  Code: {URL: null}
Models:
- Name: tiny_residual_mars
  In Collection: Tiny Residual Net (plugin)
  Config: tiny_residual_mars.py
  Metadata: {Training Data: Mars-CR}
  Results: []
  Weights: []
'''


def _config(repo: str) -> str:
    base = [osp.join(repo, 'configs', p) for p in (
        '_base_/datasets/cuhk_cr2.py', '_base_/schedules/adam_iter.py',
        '_base_/default_runtime.py')]
    loader = "dict(num_workers=0, persistent_workers=False, dataset=dict(type='MarsCRDataset', " \
             "dataset_name='Mars-CR'))"
    return textwrap.dedent(f'''
        _base_ = {base!r}
        custom_imports = dict(imports=['mars_plugin'], allow_failed_imports=False)
        model_name = 'tiny_residual'
        model = dict(type='SupervisedRestorer', generator=dict(type='ResidualConvNet', width=4),
                     losses=dict(l1=dict(type='CharbonnierLoss')))
        train_dataloader = {loader}
        val_dataloader = {loader}
        test_dataloader = val_dataloader
        val_evaluator = dict(type='CRMetric', protocol='mars_l1')
        test_evaluator = val_evaluator
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1)
        default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
    ''')


@pytest.mark.slow
def test_plugin_model_dataset_protocol_reach_the_leaderboard(tmp_path):
    pkg = tmp_path / 'plugins' / 'mars_plugin'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text(PLUGIN)
    (pkg / 'metafile.yml').write_text(METAFILE)
    config = tmp_path / 'tiny_residual_mars.py'
    config.write_text(_config(REPO))
    env = with_pythonpath(REPO, str(tmp_path / 'plugins'))
    # the dataset's synthetic twin, as the plugin's write_synthetic writes it (not imported
    # here: its registrations would leak into the other tests of this process)
    from crbench.datasets.synthetic import write_cuhk
    data_root = osp.join(write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 2},
                                    size=32), 'CUHK-CR2')
    crbench = ('-m', 'crbench')
    run_python(tmp_path, env, *crbench, 'train', str(config), '--work-dir', 'w',
               '--data-root', data_root)
    run_python(tmp_path, env, *crbench, 'test', str(config), 'w/iter_1.pth', '--work-dir',
               'w/test', '--data-root', data_root, '--results-dir', 'results')
    (result, ) = (tmp_path / 'results').glob('*.json')
    record = json.loads(result.read_text())
    assert (record['dataset'], record['protocol']) == ('Mars-CR', 'mars_l1')
    assert 'MarsL1' in record['metrics']

    run_python(tmp_path, env, *crbench, 'leaderboard', '--results-dir', 'results',
               '--reported', osp.join(REPO, 'leaderboard', 'reported.csv'), '--out-dir',
               'board', '--show-synthetic', '--no-plots')
    page = (tmp_path / 'board' / 'README.md').read_text()
    section = page.split('### Mars-CR (synthetic)')[1]
    row = [line for line in section.splitlines() if line.startswith('| Tiny Residual Net')]
    assert row and '| synthetic run |' in row[0] and 'MarsL1 ↓' in section
    assert 'not in the model index' not in row[0]
    # the new dataset gets a table of its own among the real ones (nothing real on it yet)
    assert '\n## Mars-CR\n' in page
    assert page.index('## Sen2_MTC_New') < page.index('\n## Mars-CR\n')
