"""The MMEngine/torch shims: trusted checkpoints, weights_only for the rest, CPU DDP."""
import os.path as osp

import pytest
import torch
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import _load_checkpoint

from crbench.engine import (CPUCompatibleDDP, UntrustedCheckpointError, is_trusted_checkpoint,
                            load_checkpoint_file, save_trusted_checkpoint)
from crbench.registry import MODEL_WRAPPERS


def test_mmengine_uses_crbench_loader():
    assert CheckpointLoader._schemes[''] is load_checkpoint_file


def test_own_checkpoint_with_python_objects_roundtrips(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer
    path = str(tmp_path / 'iter_1.pth')
    save_trusted_checkpoint({'state_dict': {'w': torch.ones(2)},
                             'message_hub': HistoryBuffer([1.0, 2.0], [1, 1])}, path)
    assert is_trusted_checkpoint(path)
    loaded = _load_checkpoint(path, map_location='cpu')
    assert isinstance(loaded['message_hub'], HistoryBuffer)


def test_external_weights_load_with_weights_only(tmp_path, monkeypatch):
    path = str(tmp_path / 'official.pth')
    torch.save({'conv.weight': torch.randn(2, 2)}, path)
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    loaded = _load_checkpoint(path, map_location='cpu')
    assert set(loaded) == {'conv.weight'}
    assert calls == [True]


def test_pickled_objects_without_sidecar_are_refused(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer
    path = str(tmp_path / 'foreign.pth')
    torch.save({'buffer': HistoryBuffer([1.0], [1])}, path)
    with pytest.raises(UntrustedCheckpointError, match='weights_only'):
        load_checkpoint_file(path)
    # A sidecar that does not match the content does not make it trusted.
    with open(path + '.sha256', 'w') as f:
        f.write('0' * 64)
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(path)


def test_atomic_save_leaves_no_temporary_files(tmp_path):
    path = str(tmp_path / 'a.pth')
    save_trusted_checkpoint({'x': torch.zeros(1)}, path)
    save_trusted_checkpoint({'x': torch.ones(1)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.pth', 'a.pth.sha256']
    assert load_checkpoint_file(path)['x'].item() == 1


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_cpu_ddp_wrapper_registered_and_drops_device_ids():
    assert MODEL_WRAPPERS.get('CPUCompatibleDDP') is CPUCompatibleDDP
    import torch.distributed as dist
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0, world_size=1)
    try:
        from crbench.models.restorers import SupervisedRestorer
        model = SupervisedRestorer(generator=dict(type='MemoryNet', in_channels=3, n_feat=8,
                                                  scale_unetfeats=4, scale_orsnetfeats=4,
                                                  num_cab=1),
                                   losses=dict(l=dict(type='CharbonnierLoss')))
        wrapped = CPUCompatibleDDP(module=model, device_ids=[0])
        assert wrapped.device_ids is None
    finally:
        dist.destroy_process_group()


def test_default_scope_is_crbench(repo_root):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(repo_root, 'configs/_base_/default_runtime.py'))
    assert cfg.default_scope == 'crbench'
