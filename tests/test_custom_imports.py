"""A user's own baseline, registered from a package outside crbench via custom_imports."""
import os.path as osp
import subprocess
import sys
import textwrap


def test_custom_baseline_trains_from_outside(repo_root, tmp_path):
    pkg = tmp_path / 'my_baselines'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(textwrap.dedent('''
        import torch
        from crbench.registry import MODELS

        @MODELS.register_module()
        class ResidualConvNet(torch.nn.Module):
            """A user's baseline: predicts a residual with two convolutions."""
            def __init__(self, bands=4, width=8):
                super().__init__()
                self.body = torch.nn.Sequential(
                    torch.nn.Conv2d(bands, width, 3, padding=1), torch.nn.ReLU(),
                    torch.nn.Conv2d(width, bands, 3, padding=1))
            def forward(self, x):
                return x + self.body(x)
    '''))
    config = tmp_path / 'my_config.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [r'{osp.join(repo_root, "configs/_base_/datasets/cuhk_cr2.py")}',
                  r'{osp.join(repo_root, "configs/_base_/schedules/adam_iter.py")}',
                  r'{osp.join(repo_root, "configs/_base_/default_runtime.py")}']
        custom_imports = dict(imports=['my_baselines'], allow_failed_imports=False)
        model_name = 'residual_conv'
        model = dict(type='SupervisedRestorer',
                     generator=dict(type='ResidualConvNet', bands=4),
                     losses=dict(l1=dict(type='CharbonnierLoss')))
        train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
        default_hooks = dict(checkpoint=dict(interval=2, save_best=None))
    '''))
    from crbench.datasets.synthetic import write_cuhk
    top = write_cuhk(str(tmp_path / 'data'), 'CUHK-CR2', {'train': 2, 'test': 1}, size=32)
    env = dict(**__import__('os').environ, PYTHONPATH=str(tmp_path))
    loaders = [f'{k}.{a}' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
               for a in ('num_workers=0', 'persistent_workers=False')]
    out = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'w'),
         '--data-root', osp.join(top, 'CUHK-CR2'), '--cfg-options', *loaders],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert osp.isfile(tmp_path / 'w' / 'iter_2.pth')
