"""tools/benchmark_samplers.py: every sampler of both processes, error and time against NFE."""
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'crbench_tool_benchmark_samplers', osp.join(REPO, 'tools', 'benchmark_samplers.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_sampler_of_both_processes(tmp_path, capsys):
    out = tmp_path / 'samplers.json'
    assert _tool().main(['--steps', '4', '16', '--size', '8', '--batch', '1',
                         '--json', str(out)]) == 0
    rows = json.loads(out.read_text())['rows']
    seen = {(r['process'].split()[0], r['sampler'].split()[0]) for r in rows}
    assert seen == {('DE', 'DDIMSampler'), ('DE', 'DDPMSampler'), ('DE', 'DPMSolverPP2MSampler'),
                    ('DE', 'DPMSolverPP2MSDESampler'), ('EMRDM', 'EulerSampler'),
                    ('EMRDM', 'HeunSampler'), ('EMRDM', 'StochasticEulerSampler'),
                    ('EMRDM', 'DPMSolverPP2MSampler'), ('EMRDM', 'DPMSolverPP2MSDESampler')}
    heun = [r for r in rows if r['sampler'] == 'HeunSampler']
    assert [r['nfe'] for r in heun] == [7, 31]  # 2 N - 1 network evaluations
    for r in rows:
        assert r['time_s'] >= 0 and r['std_error'] >= 0
        assert (r['path_error'] is None) == any(k in r['sampler'] for k in
                                                ('eta=', 'DDPM', 'Stochastic', 'SDE'))
    # more steps, smaller path error (deterministic samplers)
    for name in ('EulerSampler', 'HeunSampler', 'DPMSolverPP2MSampler', 'DDIMSampler'):
        for process in {r['process'] for r in rows if r['sampler'] == name}:
            errors = [r['path_error'] for r in rows
                      if r['sampler'] == name and r['process'] == process]
            assert errors[1] < errors[0], (name, process, errors)
    assert 'NFE' in capsys.readouterr().out


def test_bad_arguments_exit_2(capsys):
    assert _tool().main(['--steps', '0']) == 2
    assert 'must be positive' in capsys.readouterr().err
