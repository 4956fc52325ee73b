"""crbench.analysis.pipeline: the per-stage profile of a test loop, end to end."""
import json

import pytest

from crbench.analysis import pipeline

# The real MemoryNet recipe, shrunk (as in tests/tools/test_train_test_tools.py).
TINY = ['model.generator.n_feat=8', 'model.generator.scale_unetfeats=4',
        'model.generator.scale_orsnetfeats=4', 'model.generator.num_cab=1']
CONFIG = 'configs/demo/memorynet_cuhkcr2_demo.py'


def test_profile_on_synthetic_data_writes_consistent_json(tmp_path, capsys):
    out = tmp_path / 'profile.json'
    code = pipeline.main([CONFIG, '--synthetic', '--synthetic-size', '48',
                          '--num-batches', '2', '--workers', '0', '--json', str(out),
                          '--cfg-options', *TINY])
    assert code == 0
    result = json.loads(out.read_text())
    assert result['synthetic'] is True
    assert result['batches'] == 2 and result['images'] == 2
    assert result['input_size'] == [24, 24]  # 48 on disk, MATLAB-resized by 0.5
    assert set(result['stages']) == set(pipeline.STAGES)
    totals = [row['total_s'] for row in result['stages'].values()]
    assert all(t >= 0 for t in totals) and result['stages']['forward']['total_s'] > 0
    # the stages partition the timed loop: their sum plus the rest is the wall time
    assert sum(totals) == pytest.approx(result['stages_total_s'], rel=1e-9)
    assert result['stages_total_s'] + result['other_s'] == pytest.approx(
        result['end_to_end_s'], rel=1e-9)
    assert 0 <= result['other_s'] <= 0.5 * result['end_to_end_s']
    assert sum(r['share'] for r in result['stages'].values()) <= 1 + 1e-9
    for row in result['stages'].values():
        assert row['per_image_ms'] == pytest.approx(1000 * row['total_s'] / 2)
    assert result['images_per_s'] == pytest.approx(2 / result['end_to_end_s'])
    assert result['network_calls_per_batch'] == {'generator': 1}
    assert result['split'] == dict(images=111, source='real CUHK-CR2 test split',
                                   estimated_s=pytest.approx(111 / result['images_per_s']))
    assert {'PSNR', 'SSIM', 'RMSE'} <= set(result['metrics'])
    printed = capsys.readouterr().out
    assert 'end to end' in printed and 'forward' in printed


def test_bad_config_path_exits_2(tmp_path, capsys):
    assert pipeline.main([str(tmp_path / 'missing.py'), '--json',
                          str(tmp_path / 'x.json')]) == 2
    assert 'does not exist' in capsys.readouterr().err


def test_call_counter_counts_network_calls():
    import torch

    class Framework(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(2, 2)
            self.data_preprocessor = torch.nn.Identity()

        def forward(self, x):
            for _ in range(3):  # three sampling steps
                x = self.net(x)
            return self.data_preprocessor(x)

    model = Framework()
    counter = pipeline.CallCounter(model)
    model(torch.zeros(1, 2))
    assert counter.take() == {'net': 3}
    counter.remove()
    model(torch.zeros(1, 2))
    assert counter.take() == {}


def _profile_json(tmp_path, name, *extra):
    out = tmp_path / f'{name}.json'
    code = pipeline.main([CONFIG, *extra, '--synthetic', '--synthetic-size', '48',
                          '--num-batches', '1', '--workers', '0', '--no-write',
                          '--json', str(out), '--cfg-options', *TINY])
    return code, (json.loads(out.read_text()) if code == 0 else None)


def test_checkpoint_is_loaded_strictly_and_bad_input_exits_2(tmp_path, capsys):
    import torch

    from crbench.apis import init_model
    overrides = dict(item.split('=') for item in TINY)
    torch.manual_seed(123)
    trained = init_model(CONFIG, cfg_options={k: int(v) for k, v in overrides.items()})
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': trained.state_dict()}, good)
    _, fresh = _profile_json(tmp_path, 'fresh')
    code, loaded = _profile_json(tmp_path, 'loaded', str(good))
    assert code == 0 and loaded['checkpoint'] == str(good)
    assert loaded['metrics']['PSNR'] != fresh['metrics']['PSNR']  # the weights were used
    _, again = _profile_json(tmp_path, 'again', str(good))
    assert again['metrics'] == loaded['metrics']
    # weights of another network, a misspelt override key: exit 2 naming the problem
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'generator.nothing': torch.zeros(1)}}, bad)
    assert _profile_json(tmp_path, 'bad', str(bad))[0] == 2
    assert 'bad.pth' in capsys.readouterr().err
    code = pipeline.main([CONFIG, '--num-batches', '1', '--cfg-options',
                          'model.generatr.n_feat=8'])
    assert code == 2 and 'generatr' in capsys.readouterr().err


@pytest.mark.parametrize('config, name, size', [
    ('configs/spagan/spagan_rice1.py', 'RICE1', 32),
    ('configs/spagan/spagan_sen12mscr.py', 'SEN12MS-CR', 16),
    ('configs/spagan/spagan_sen2mtc_new.py', 'Sen2_MTC_New', 16)])
def test_synthetic_twin_of_every_dataset_kind(tmp_path, config, name, size):
    out = tmp_path / 'profile.json'
    assert pipeline.main([config, '--synthetic', '--synthetic-size', str(size),
                          '--num-batches', '1', '--workers', '0', '--batch-size', '1',
                          '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['synthetic'] is True and result['images'] == 1
    assert result['split']['source'] == f'real {name} test split'
    assert result['split']['images'] == pipeline.REAL_TEST_SIZES[name]


def test_synthetic_twin_writers_exist_for_every_dataset_type():
    from crbench.datasets.synthetic import REAL_SIZES, WRITERS
    for cfg in (dict(type='CUHKCRDataset', dataset_name='CUHK-CR1'), dict(type='CUHKCRDataset'),
                dict(type='RICEDataset', version=2), dict(type='SEN12MSCRDataset'),
                dict(type='Sen2MTCNewDataset')):
        writer = pipeline.dataset_identity(cfg)['writer']
        assert writer in WRITERS and writer in REAL_SIZES
