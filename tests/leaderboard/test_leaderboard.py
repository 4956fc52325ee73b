"""Tests of the leaderboard: transcription, collection, rendering, CLI."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from helpers import load_tool

from crbench.leaderboard import (LeaderboardWarning, RefusedMetricError, ReportedCSVError,
                                 build_sections, build_tidy, load_efficiency, load_reported,
                                 load_measured, load_runs, model_display, render_markdown,
                                 select_runs, write_leaderboard)

REPO = Path(__file__).resolve().parents[2]
REPORTED = REPO / 'leaderboard' / 'reported.csv'
EFFICIENCY = REPO / 'leaderboard' / 'reported_efficiency.csv'
PAPERS = REPO.parent / 'shared' / 'papers'
DE_PAPER = PAPERS / 'de_diffusion_enhancement_tgrs2024.txt'
EMRDM_PAPER = PAPERS / 'emrdm_cvpr2025.txt'
DE_SRC = 'DE (Sui et al., TGRS 2024)'
EM_SRC = 'EMRDM (Liu et al., CVPR 2025)'

HEADER = 'model,dataset,metric,value,source,table,protocol,note\n'


def make_run(model='memorynet', dataset='CUHK-CR2', metrics=None, synthetic=False,
             protocol='cuhk_official', date='2026-11-21T23:50:00+00:00', run_id='run-a',
             **extra):
    run = {
        'schema_version': 1, 'model': model, 'model_display': model, 'config':
        f'configs/{model}/{model}_x.py', 'dataset': dataset, 'split': 'test',
        'protocol': protocol, 'metrics': metrics if metrics is not None else
        {'PSNR': 25.0, 'SSIM': 0.7, 'RMSE': 0.05},
        'unavailable_metrics': ['LPIPS'], 'n_images': 111, 'checkpoint': 'work_dirs/x.pth',
        'checkpoint_sha256': 'ab' * 32, 'crbench_version': '0.1.0', 'git_commit': 'c' * 40,
        'device': 'cpu', 'date': date, 'synthetic': synthetic, 'run_id': run_id}
    run.update(extra)
    return run


def write_runs(folder: Path, **runs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, run in runs.items():
        text = run if isinstance(run, str) else json.dumps(run, indent=1)
        (folder / f'{name}.json').write_text(text)
    return folder


def small_reported(tmp_path: Path, body: str) -> Path:
    path = tmp_path / 'reported.csv'
    path.write_text(HEADER + body)
    return path


def md_sections(md: str) -> dict:
    """{heading: [row dict]} for every markdown table under a '##'/'###' heading."""
    out, heading, header = {}, None, None
    for line in md.splitlines():
        if line.startswith('#'):
            heading, header = line.lstrip('#').strip(), None
            out.setdefault(heading, [])
        elif line.startswith('|') and heading is not None:
            cells = [c.strip() for c in re.split(r'(?<!\\)\|', line.strip())[1:-1]]
            if header is None:
                header = cells
            elif not set(''.join(cells)) <= set('-:'):
                out[heading].append(dict(zip(header, cells)))
    return out


def metric_col(row: dict, metric: str):
    for k, v in row.items():
        if k.split(' ')[0] == metric:
            return v.strip('*')
    raise KeyError(metric)


# ---------------------------------------------------------------------------
# reported.csv: completeness and the transcription itself
# ---------------------------------------------------------------------------

def test_reported_counts_per_table():
    rep = load_reported(REPORTED)
    counts = rep.groupby(['source', 'table']).size().to_dict()
    assert counts == {
        (DE_SRC, 'Table V'): 42, (DE_SRC, 'Table VI'): 42,
        (EM_SRC, 'Table 1(a)'): 24, (EM_SRC, 'Table 1(b)'): 24,
        (EM_SRC, 'Table 1(c)'): 44, (EM_SRC, 'Table 1(d)'): 39}
    protocols = rep.groupby('dataset').protocol.unique().map(list).to_dict()
    assert protocols == {'CUHK-CR1': ['cuhk_official'], 'CUHK-CR2': ['cuhk_official'],
                         'RICE1': ['cuhk_official'], 'RICE2': ['cuhk_official'],
                         'SEN12MS-CR': ['sen12mscr_official'],
                         'Sen2_MTC_New': ['sen2mtc_official']}


# Printed labels in the papers' tables -> canonical keys.
LABELS = {
    'SpAGAN': 'spagan', 'SpA-GAN': 'spagan', 'SpA GAN': 'spagan', 'AMGAN-CR': 'amgan_cr',
    'CVAE': 'cvae', 'MemoryNet': 'memorynet', 'MSDA-CR': 'msda_cr',
    'DE-MemoryNet': 'de_memorynet', 'DE-MSDA': 'de_msda', 'Ours (EMRDM)': 'emrdm',
    'McGAN': 'mcgan', 'SAR-Opt-cGAN': 'sar_opt_cgan', 'SAR2OPT': 'sar2opt',
    'Simulation-Fusion GAN': 'simulation_fusion_gan', 'DSen2-CR': 'dsen2_cr',
    'GLF-CR': 'glf_cr', 'UnCRtainTS L2': 'uncrtaints_l2', 'ACA-Net': 'aca_net',
    'DiffCR': 'diffcr', 'Pix2Pix': 'pix2pix', 'AE': 'ae', 'STNet': 'stnet', 'STGAN': 'stgan',
    'CTGAN': 'ctgan', 'SEN12MS-CR-TS Net': 'sen12ms_cr_ts_net', 'PMAA': 'pmaa',
    'UnCRtainTS': 'uncrtaints', 'DDPM-CR': 'ddpm_cr'}


def _paper_tables() -> dict:
    """{(table, dataset, model, metric): printed text} parsed from the paper text files."""
    if not (DE_PAPER.is_file() and EMRDM_PAPER.is_file()):
        pytest.skip(f'paper text not found under {PAPERS}')
    found = {}
    # DE: tab-separated rows after the TABLE V / TABLE VI captions.
    de = DE_PAPER.read_text(encoding='utf-8').splitlines()
    for caption, table, datasets in (('TABLE V QUANTITATIVE', 'Table V', ('RICE1', 'RICE2')),
                                     ('Quantitative Experimental Results on the CUHK-CR1',
                                      'Table VI', ('CUHK-CR1', 'CUHK-CR2'))):
        start = next(i for i, l in enumerate(de) if l.startswith(caption))
        for line in de[start + 1:start + 14]:
            cells = line.split('\t')
            if cells[0] in LABELS and len(cells) == 7:
                for j, text in enumerate(cells[1:]):
                    found[(table, datasets[j // 3], LABELS[cells[0]],
                           ('PSNR', 'SSIM', 'LPIPS')[j % 3])] = text
    # EMRDM Table 1: markdown rows; parts (c) and (d) are flattened in the text,
    # so the non-empty cells are taken in order.
    em = EMRDM_PAPER.read_text(encoding='utf-8').splitlines()
    start = next(i for i, l in enumerate(em) if l.startswith('| Method | (a) CUHK-CR1'))
    part = 'ab'
    layouts = {'ab': [('Table 1(a)', 'CUHK-CR1', m) for m in ('PSNR', 'SSIM', 'LPIPS')]
               + [('Table 1(b)', 'CUHK-CR2', m) for m in ('PSNR', 'SSIM', 'LPIPS')],
               'c': [('Table 1(c)', 'SEN12MS-CR', m) for m in ('PSNR', 'SSIM', 'MAE', 'SAM')],
               'd': [('Table 1(d)', 'Sen2_MTC_New', m) for m in ('PSNR', 'SSIM', 'LPIPS')]}
    for line in em[start:start + 50]:
        if not line.startswith('|'):
            break
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if cells[0].startswith('(c)'):
            part = 'c'
        elif cells[0].startswith('(d)'):
            part = 'd'
        label = re.sub(r'\s*\[\d+\]$', '', cells[0])
        if label in LABELS:
            values = [c for c in cells[1:] if c]
            assert len(values) == len(layouts[part]), line
            for (table, dataset, metric), text in zip(layouts[part], values):
                found[(table, dataset, LABELS[label], metric)] = text
    return found


def test_every_reported_number_matches_paper_text():
    """Each transcribed number is the one printed at its place in the paper's table."""
    paper = _paper_tables()
    rep = load_reported(REPORTED)
    assert len(paper) == len(rep) == 215
    mismatches = []
    for r in rep.itertuples():
        printed = paper.get((r.table, r.dataset, r.model, r.metric))
        if printed != r.value_text:
            mismatches.append(f'line {r.line}: {r.model} {r.dataset} {r.metric} '
                              f'{r.value_text} vs paper {printed}')
    assert not mismatches, '\n'.join(mismatches)


@pytest.mark.parametrize('table,model,dataset,metric,context', [
    ('Table V', 'de_memorynet', 'RICE1', 'PSNR', 'DE-MemoryNet\t'),
    ('Table V', 'msda_cr', 'RICE2', 'LPIPS', 'MSDA-CR\t34.569'),
    ('Table VI', 'cvae', 'CUHK-CR1', 'LPIPS', 'CVAE\t24.252'),
    ('Table VI', 'amgan_cr', 'CUHK-CR2', 'LPIPS', 'AMGAN-CR\t20.867'),
    ('Table 1(a)', 'emrdm', 'CUHK-CR1', 'SSIM', '| Ours (EMRDM) | 27.281'),
    ('Table 1(b)', 'amgan_cr', 'CUHK-CR2', 'LPIPS', '| AMGAN-CR [66] |'),
    ('Table 1(c)', 'uncrtaints_l2', 'SEN12MS-CR', 'SAM', '| UnCRtainTS L2 [15] |'),
    ('Table 1(c)', 'emrdm', 'SEN12MS-CR', 'MAE', '| Ours (EMRDM) | 32.14'),
    ('Table 1(d)', 'ddpm_cr', 'Sen2_MTC_New', 'LPIPS', '| DDPM-CR [29] |'),
    ('Table 1(d)', 'emrdm', 'Sen2_MTC_New', 'PSNR', '| Ours (EMRDM) | 20.067'),
])
def test_spot_check_number_in_paper_row(table, model, dataset, metric, context):
    """Independent of the parser above: the value occurs on the paper's line for that row."""
    if not (DE_PAPER.is_file() and EMRDM_PAPER.is_file()):
        pytest.skip(f'paper text not found under {PAPERS}')
    rep = load_reported(REPORTED)
    row = rep[(rep.table == table) & (rep.model == model) & (rep.dataset == dataset)
              & (rep.metric == metric)]
    assert len(row) == 1
    value = row.value_text.iloc[0]
    text = (DE_PAPER if table.startswith('Table V') else EMRDM_PAPER).read_text('utf-8')
    lines = [l for l in text.splitlines() if l.startswith(context)]
    assert lines, f'no line starting with {context!r}'
    tokens = re.split(r'[\t|]', lines[0])
    assert value in [t.strip() for t in tokens], (value, lines[0])


def test_efficiency_matches_paper_text():
    if not (DE_PAPER.is_file() and EMRDM_PAPER.is_file()):
        pytest.skip(f'paper text not found under {PAPERS}')
    eff = load_efficiency(EFFICIENCY)
    assert len(eff) == 26
    de = DE_PAPER.read_text('utf-8')
    labels = {'spagan': 'SpAGAN', 'amgan_cr': 'AMGAN-CR', 'cvae': 'CVAE', 'memorynet': 'MN',
              'msda_cr': 'MSDA-CR', 'de': 'DE'}
    for r in eff[eff.table == 'Table X'].itertuples():
        line = '\t'.join([labels[r.model], r.complexity_G, r.memory_MB, r.params_M,
                          r.speed_FPS])
        assert f'\n{line}\n' in de, line
    em = EMRDM_PAPER.read_text('utf-8').splitlines()
    t6 = [[c.strip() for c in l.strip().strip('|').split('|')]
          for l in em if l.startswith('| Params (M)') or l.startswith('| MACs (G)')]
    params = [c for row in t6 if row[0] == 'Params (M)' for c in row[1:]
              if c and c != 'Params (M)']
    macs = [c for row in t6 if row[0] == 'MACs (G)' for c in row[1:] if c and c != 'MACs (G)']
    ours = eff[eff.table.str.startswith('Table 6')]
    assert list(ours.params_M) == params
    assert list(ours.macs_G) == macs
    # EMRDM App. C.2: per-image sampling times, one row per dataset
    c2 = eff[eff.table == 'App. C.2']
    assert len(c2) == 4 and set(c2.model) == {'emrdm'}
    text = ' '.join(em)
    for r in c2.itertuples():
        assert f'{r.sampling_ms} ms ({r.dataset})' in text, (r.dataset, r.sampling_ms)


# ---------------------------------------------------------------------------
# Rendering of reported.csv alone
# ---------------------------------------------------------------------------

def test_every_reported_row_in_markdown_and_csv(tmp_path):
    res = write_leaderboard(tmp_path / 'results', REPORTED, tmp_path / 'out')
    md = (tmp_path / 'out' / 'README.md').read_text('utf-8')
    sections = md_sections(md)
    rep = load_reported(REPORTED)
    missing = []
    for r in rep.itertuples():
        rows = [row for row in sections.get(r.dataset, [])
                if row['Model'] == model_display(r.model) and row['Row'] == 'reported'
                and row['Source'] == f'{r.source}, {r.table}' and row['Protocol'] == r.protocol]
        if len(rows) != 1 or metric_col(rows[0], r.metric) != r.value_text:
            missing.append(f'line {r.line}')
    assert not missing, missing
    out = pd.read_csv(tmp_path / 'out' / 'leaderboard.csv', dtype=str, keep_default_na=False)
    got = out[out.kind == 'reported']
    assert len(got) == len(rep)
    key = ['model', 'dataset', 'metric', 'value', 'source', 'table', 'protocol']
    a = set(map(tuple, got[key].values))
    b = set(map(tuple, rep.assign(value=rep.value_text)[key].values))
    assert a == b
    # every crbench model has a visible gap on Sen2_MTC_New (nothing reported for it)
    gaps = [r for r in sections['Sen2_MTC_New'] if r['Model'] == 'MemoryNet']
    assert gaps and all(v == '—' for k, v in gaps[0].items() if k.startswith('PSNR'))
    assert res['skipped'] == []


def test_bad_reported_rows_named_with_line_numbers(tmp_path):
    path = small_reported(tmp_path, (
        'memorynet,CUHK-CR2,PSNR,24.224,src,Table VI,cuhk_official,\n'
        'MemoryNet,CUHK-CR2,PSNR,24.2,src,Table VI,cuhk_official,\n'
        'memorynet,CUHK-CR9,SSIM,0.6,src,Table VI,cuhk_official,\n'
        'memorynet,CUHK-CR2,SSIM,abc,src,Table VI,cuhk_official,\n'
        'memorynet,CUHK-CR2,LPIPS_RANDOM_BACKBONE_TEST_ONLY,0.1,src,Table VI,cuhk_official,\n'
        'memorynet,CUHK-CR2,PSNR,24.224,src,Table VI,cuhk_official,\n'))
    with pytest.raises(ReportedCSVError) as e:
        load_reported(path)
    msg = str(e.value)
    assert str(path) in msg
    for line, what in ((3, 'lower_snake_case'), (5, "'abc'"),
                       (6, 'refused'), (7, 'duplicate of line 2')):
        assert re.search(rf'line {line}: [^\n]*{re.escape(what)}', msg), (line, msg)
    assert 'line 2:' not in msg
    assert 'line 4:' not in msg  # an unknown dataset is shown, labelled (next test)


def test_unknown_names_shown_labelled(tmp_path):
    """reported.csv rows and run files with names no registry or metafile knows still show."""
    path = small_reported(tmp_path, (
        'memorynet,CUHK-CR9,SSIM,0.6,src,Table VI,cuhk_official,\n'
        'othernet,CUHK-CR2,PSNR,24.0,src,Table VI,my_protocol,\n'
        'memorynet,CUHK-CR2,FID,3.5,src,Table VI,cuhk_official,\n'))
    results = write_runs(tmp_path / 'results', u=make_run('mynet', 'Mars-CR', run_id='u',
                                                          model_display='My Net'))
    write_leaderboard(results, path, tmp_path / 'out', efficiency=None, efficiency_dir=None)
    sections = md_sections((tmp_path / 'out' / 'README.md').read_text('utf-8'))
    row = sections['CUHK-CR9'][0]
    assert row['Model'] == 'MemoryNet' and "dataset 'CUHK-CR9' is not registered" in row['Notes']
    other = [r for r in sections['CUHK-CR2'] if r['Model'] == 'othernet'][0]
    assert "model 'othernet' is not in the model index" in other['Notes']
    assert "protocol 'my_protocol' is not registered" in other['Notes']
    fid = [r for r in sections['CUHK-CR2'] if r['Model'] == 'MemoryNet'][0]
    assert 'FID defined by no protocol' in fid['Notes'] and fid['FID'] == '3.5'
    mars = sections['Mars-CR'][0]
    assert mars['Model'] == 'My Net' and mars['Row'] == 'reproduced'
    assert "model 'mynet' is not in the model index" in mars['Notes']
    assert "dataset 'Mars-CR' is not registered" in mars['Notes']


def test_ci_variant_incomplete_shown(tmp_path):
    """metrics_ci95 next to each mean; variants and incomplete runs labelled, never the
    paper config (no bold, no delta); old JSONs without the fields still render."""
    prov = {'cfg_options': {'train_cfg.max_iters': 2}, 'variant': True}
    results = write_runs(
        tmp_path / 'results',
        old=make_run(run_id='old', metrics={'PSNR': 30.0, 'SSIM': 0.9, 'RMSE': 0.01}),
        ci=make_run(run_id='ci', model='msda_cr', metrics={'PSNR': 25.0},
                    metrics_ci95={'PSNR': [24.5, 25.5]}),
        var=make_run(run_id='var', model='cvae', provenance=prov,
                     metrics={'PSNR': 40.0}, metrics_ci95={'PSNR': [39.0, 41.0]}),
        inc=make_run(run_id='inc', model='spagan', incomplete=True,
                     metrics={'PSNR': 41.0}))
    res = write_leaderboard(results, REPORTED, tmp_path / 'out')
    rows = md_sections((tmp_path / 'out' / 'README.md').read_text('utf-8'))['CUHK-CR2']
    by = {(r['Model'], r['Row']): r for r in rows}
    assert by[('MSDA-CR', 'reproduced')]['PSNR ↑'] == '25.000 [24.500, 25.500]'
    # old JSON without the new fields: no CI; the best paper-config value (bold), although
    # the variant (40) and the incomplete run (41) are higher
    assert by[('MemoryNet', 'reproduced')]['PSNR ↑'] == '**30.000**'
    var = by[('CVAE', 'reproduced (variant)')]
    assert var['PSNR ↑'] == '40.000 [39.000, 41.000]'  # not bold although the highest
    assert 'variant, not the paper config: train_cfg.max_iters=2' in var['Notes']
    inc = by[('SpA-GAN', 'reproduced (incomplete)')]
    assert inc['PSNR ↑'] == '41.000' and 'incomplete test set' in inc['Notes']
    assert not [r for r in rows if r['Model'] in ('CVAE', 'SpA-GAN') and r['Row'].startswith('Δ')]
    assert [r for r in rows if r['Model'] == 'MSDA-CR' and r['Row'].startswith('Δ')]
    tidy = res['tidy']
    ci = tidy[(tidy.run_id == 'ci') & (tidy.metric == 'PSNR') & (tidy.kind == 'reproduced')]
    assert ci[['ci95_low', 'ci95_high', 'variant']].values.tolist() == [['24.5', '25.5', 'false']]
    assert tidy[tidy.run_id == 'var'].cfg_options.iloc[0] == 'train_cfg.max_iters=2'
    html = (tmp_path / 'out' / 'index.html').read_text('utf-8')
    assert '40.000 [39.000, 41.000]' in html and 'reproduced (variant)' in html


def test_variant_and_paper_run_kept_apart(tmp_path):
    """A later variant run does not replace the paper-config run of the same group."""
    results = write_runs(
        tmp_path / 'results',
        paper=make_run(run_id='paper', date='2026-01-01T00:00:00+00:00'),
        var=make_run(run_id='var', date='2026-02-01T00:00:00+00:00',
                     provenance={'variant': True, 'cfg_options': {'x': 1}}))
    runs, _ = load_runs(results)
    assert sorted(r['run_id'] for r in select_runs(runs, 'latest')) == ['paper', 'var']


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------

def test_malformed_json_skipped_and_named(tmp_path, capsys):
    results = write_runs(tmp_path / 'results', good=make_run(), broken='{"model": "x", ',
                         nometrics={k: v for k, v in make_run().items() if k != 'metrics'},
                         badsyn=make_run(synthetic='yes'), future=make_run(schema_version=9))
    with pytest.warns(LeaderboardWarning) as rec:
        runs, skipped = load_runs(results)
    assert [r['result_file'] for r in runs] == ['good.json']
    names = sorted(Path(p).name for p, _ in skipped)
    assert names == ['badsyn.json', 'broken.json', 'future.json', 'nometrics.json']
    messages = ' '.join(str(w.message) for w in rec)
    for n in names:
        assert n in messages
    # the CLI still writes the leaderboard and names the skipped file
    cli = load_tool('leaderboard')
    rc = cli.main(['--results-dir', str(results), '--reported', str(REPORTED),
                   '--out-dir', str(tmp_path / 'out'), '--no-plots'])
    assert rc == 0
    out = capsys.readouterr().out
    assert 'broken.json' in out and 'nometrics.json' in out
    md = (tmp_path / 'out' / 'README.md').read_text('utf-8')
    assert 'crbench run run-a' in md


def test_random_metric_key_refused(tmp_path, capsys):
    results = write_runs(tmp_path / 'results', ok=make_run(), lpips=make_run(
        metrics={'PSNR': 20.0, 'LPIPS_RANDOM_BACKBONE_TEST_ONLY': 0.3}, run_id='r'))
    with pytest.raises(RefusedMetricError, match=r'lpips\.json.*LPIPS_RANDOM_BACKBONE'):
        load_runs(results)
    cli = load_tool('leaderboard')
    rc = cli.main(['--results-dir', str(results), '--reported', str(REPORTED),
                   '--out-dir', str(tmp_path / 'out')])
    assert rc != 0
    assert 'lpips.json' in capsys.readouterr().err
    assert not (tmp_path / 'out' / 'README.md').exists()


def test_select_latest_and_best(tmp_path):
    results = write_runs(
        tmp_path / 'results',
        old=make_run(metrics={'PSNR': 26.0, 'SSIM': 0.70}, date='2026-01-01T00:00:00+00:00',
                     run_id='old'),
        new=make_run(metrics={'PSNR': 25.0, 'SSIM': 0.75}, date='2026-02-01T00:00:00+00:00',
                     run_id='new'))
    runs, _ = load_runs(results)
    latest = select_runs(runs, 'latest')
    best = select_runs(runs, 'best')
    assert [(r['run_id'], r['n_runs']) for r in latest] == [('new', 2)]
    assert [(r['run_id'], r['n_runs']) for r in best] == [('old', 2)]
    # a row never mixes runs: best run's SSIM is its own, not the higher one
    assert best[0]['metrics']['SSIM'] == 0.70


def test_delta_computed(tmp_path):
    reported = small_reported(tmp_path, (
        f'memorynet,CUHK-CR2,PSNR,24.224,"{DE_SRC}",Table VI,cuhk_official,\n'
        f'memorynet,CUHK-CR2,SSIM,0.6838,"{DE_SRC}",Table VI,cuhk_official,\n'
        f'memorynet,CUHK-CR2,LPIPS,0.0403,"{DE_SRC}",Table VI,cuhk_official,\n'
        f'memorynet,CUHK-CR2,PSNR,24.0,"{EM_SRC}",Table 1(b),cuhk_official,\n'))
    results = write_runs(
        tmp_path / 'results',
        a=make_run(metrics={'PSNR': 25.0, 'SSIM': 0.7, 'RMSE': 0.05}),
        b=make_run(metrics={'PSNR': 30.0}, protocol='standard', run_id='std'))
    res = write_leaderboard(results, reported, tmp_path / 'out')
    tidy = res['tidy']
    d = tidy[tidy.kind == 'delta']
    got = {(r.reference_table, r.metric): float(r.value) for r in d.itertuples()}
    assert got == pytest.approx({('Table VI', 'PSNR'): 25.0 - 24.224,
                                 ('Table VI', 'SSIM'): 0.7 - 0.6838,
                                 ('Table 1(b)', 'PSNR'): 1.0})
    assert set(d.run_id) == {'run-a'}  # no delta across protocols
    rows = md_sections((tmp_path / 'out' / 'README.md').read_text('utf-8'))['CUHK-CR2']
    delta_rows = {r['Row']: r for r in rows if r['Row'].startswith('Δ')}
    assert metric_col(delta_rows['Δ vs Table VI'], 'PSNR') == '+0.776'
    assert metric_col(delta_rows['Δ vs Table VI'], 'SSIM') == '+0.0162'
    assert metric_col(delta_rows['Δ vs Table VI'], 'LPIPS') == '—'
    assert metric_col(delta_rows['Δ vs Table 1(b)'], 'PSNR') == '+1.000'
    repro = [r for r in rows if r['Row'] == 'reproduced' and r['Model'] == 'MemoryNet']
    assert {r['Protocol'] for r in repro} == {'cuhk_official', 'standard'}
    assert all(r['Runs'] == '1 (latest)' for r in repro)


def test_best_per_column_respects_direction(tmp_path):
    reported = small_reported(tmp_path, (
        'memorynet,RICE1,PSNR,30.0,src,T,cuhk_official,\n'
        'memorynet,RICE1,LPIPS,0.050,src,T,cuhk_official,\n'
        'msda_cr,RICE1,PSNR,29.0,src,T,cuhk_official,\n'
        'msda_cr,RICE1,LPIPS,0.030,src,T,cuhk_official,\n'
        'cvae,RICE1,PSNR,31.0,src,T,standard,\n'
        'cvae,RICE1,LPIPS,0.010,src,T,standard,\n'))
    rep = load_reported(reported)
    runs = select_runs([dict(make_run('spagan', 'RICE1', {'PSNR': 29.5, 'LPIPS': 0.040}),
                             result_file='x.json')])
    secs = {s.dataset: s for s in build_sections(build_tidy(rep, runs))}
    best = {(r.model, r.kind, m) for r in secs['RICE1'].rows for m, c in r.cells.items()
            if c.bold}
    # PSNR: higher is better -> memorynet; LPIPS: lower is better -> msda_cr.
    # cvae uses another protocol and does not compete.
    assert best == {('memorynet', 'reported', 'PSNR'), ('msda_cr', 'reported', 'LPIPS')}
    md = render_markdown(build_tidy(rep, runs))
    rows = md_sections(md)['RICE1']
    msda = next(r for r in rows if r['Model'] == 'MSDA-CR' and r['Row'] == 'reported')
    assert msda['LPIPS ↓'] == '**0.030**' and msda['PSNR ↑'] == '29.0'
    # a better reproduced run takes the bold
    runs = select_runs([dict(make_run('spagan', 'RICE1', {'PSNR': 35.0, 'LPIPS': 0.001}),
                             result_file='x.json')])
    secs = {s.dataset: s for s in build_sections(build_tidy(rep, runs))}
    best = {(r.model, r.kind, m) for r in secs['RICE1'].rows for m, c in r.cells.items()
            if c.bold}
    assert best == {('spagan', 'reproduced', 'PSNR'), ('spagan', 'reproduced', 'LPIPS')}


def test_synthetic_only_in_synthetic_section(tmp_path):
    results = write_runs(
        tmp_path / 'results',
        real=make_run(metrics={'PSNR': 23.5, 'SSIM': 0.66}, run_id='real-1'),
        syn=make_run(metrics={'PSNR': 12.345, 'SSIM': 0.1234}, synthetic=True,
                     run_id='syn-1'))
    out = tmp_path / 'out'
    write_leaderboard(results, REPORTED, out, show_synthetic=True)
    md = (out / 'README.md').read_text('utf-8')
    main, _, synth = md.partition('## Synthetic runs')
    assert synth, 'no synthetic section'
    assert '12.345' in synth and 'syn-1' in synth
    assert '12.345' not in main and 'syn-1' not in main and '0.1234' not in main
    assert 'real-1' in main and 'real-1' not in synth
    assert '**' not in synth and 'Δ' not in synth.split('\n', 3)[-1]
    csv_ = pd.read_csv(out / 'leaderboard.csv', dtype=str, keep_default_na=False)
    syn_rows = csv_[csv_.run_id == 'syn-1']
    assert len(syn_rows) == 2 and set(syn_rows.synthetic) == {'true'}
    assert set(syn_rows.kind) == {'reproduced'}  # never a delta
    assert set(csv_[csv_.run_id != 'syn-1'].synthetic) == {'false'}
    html = (out / 'index.html').read_text('utf-8')
    main_html, _, syn_html = html.partition('<section class="panel" id="synthetic">')
    assert 'syn-1' in syn_html and 'syn-1' not in main_html
    # without the flag: not shown anywhere, but the page says runs are hidden
    write_leaderboard(results, REPORTED, out)
    md = (out / 'README.md').read_text('utf-8')
    assert 'syn-1' not in md and '12.345' not in md and '## Synthetic runs' not in md
    assert '1 synthetic run(s) hidden' in md
    assert 'syn-1' not in (out / 'leaderboard.csv').read_text('utf-8')
    assert 'syn-1' not in (out / 'index.html').read_text('utf-8')


# ---------------------------------------------------------------------------
# CLI and idempotence
# ---------------------------------------------------------------------------

def test_cli_idempotent(tmp_path):
    results = write_runs(
        tmp_path / 'results',
        r1=make_run(run_id='r1', date='2026-01-01T00:00:00+00:00'),
        r2=make_run(run_id='r2', date='2026-01-02T00:00:00+00:00'),
        r3=make_run('emrdm', 'SEN12MS-CR', {'PSNR': 30.1, 'SSIM': 0.9, 'MAE': 0.02,
                                             'SAM': 6.0, 'raw_PSNR': 10.0},
                    protocol='sen12mscr_official', run_id='r3'),
        s1=make_run(synthetic=True, run_id='s1'))
    cli = load_tool('leaderboard')
    args = ['--results-dir', str(results), '--reported', str(REPORTED), '--select', 'best',
            '--show-synthetic', '--no-plots']  # plots: test_plots_written_linked_idempotent
    outs = []
    for name in ('a', 'a', 'b'):
        assert cli.main(args + ['--out-dir', str(tmp_path / name)]) == 0
        outs.append({f: (tmp_path / name / f).read_bytes()
                     for f in ('README.md', 'leaderboard.csv', 'index.html')})
    assert outs[0] == outs[1] == outs[2]
    md = outs[0]['README.md'].decode()
    assert 'raw_PSNR' not in md
    assert 'raw_PSNR' in outs[0]['leaderboard.csv'].decode()
    assert not re.search(r'20\d\d-\d\d-\d\dT', md)  # no timestamps in the page


def test_repo_outputs_are_current(tmp_path):
    """leaderboard/leaderboard.csv in the repo matches a fresh rendering of reported.csv."""
    repo_out = REPO / 'leaderboard'
    if not (repo_out / 'README.md').exists():
        pytest.skip('leaderboard/README.md not generated yet')
    if any(p.suffix == '.json' for p in (repo_out / 'results').glob('*.json')):
        pytest.skip('repository has run files; outputs depend on how they were generated')
    write_leaderboard(repo_out / 'results', REPORTED, tmp_path)
    for f in ('leaderboard.csv',):
        assert (tmp_path / f).read_bytes() == (repo_out / f).read_bytes(), \
            f'leaderboard/{f} is stale: run python tools/leaderboard.py'


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

def test_html_self_contained_with_tabs_and_provenance(tmp_path):
    results = write_runs(tmp_path / 'results', a=make_run(run_id='run-html'))
    write_leaderboard(results, REPORTED, tmp_path)
    html = (tmp_path / 'index.html').read_text('utf-8')
    assert html.startswith('<!DOCTYPE html>')
    # no network fetches: no external scripts, styles, images or links
    assert not re.search(r'(src|href)\s*=', html)
    assert 'http://' not in html and 'https://' not in html and '@import' not in html
    for ds in ('CUHK-CR1', 'CUHK-CR2', 'RICE1', 'RICE2', 'SEN12MS-CR', 'Sen2_MTC_New'):
        assert f'data-target="ds-{ds.lower().replace("_", "-")}"' in html
    assert 'Source (provenance)' in html and 'sortTable' in html
    rep = load_reported(REPORTED)
    for r in rep.itertuples():
        assert f'data-v="{float(r.value_text)!r}"' in html
    assert f'{DE_SRC}, Table VI' in html
    assert 'run-html' in html
    assert 'Synthetic runs' not in html


# ---------------------------------------------------------------------------
# Efficiency: measured (tools/benchmark.py) beside reported
# ---------------------------------------------------------------------------

def make_measured(model='memorynet', dataset='CUHK-CR2', size=256, **extra):
    rec = {'schema_version': 1, 'kind': 'efficiency', 'model': model,
           'config': f'configs/{model}/{model}_cuhkcr2.py', 'dataset': dataset,
           'framework': 'SupervisedRestorer', 'size': size,
           'input_shapes': {'cloudy': [1, 4, size, size]}, 'device': 'cpu',
           'device_name': 'cpu (x86_64)', 'repeats': 5, 'warmup': 1, 'params': 3638993,
           'macs': 141096541992, 'latency_ms': 1234.54, 'peak_memory_MB': 321.4,
           'memory_method': 'cpu: peak RSS (VmHWM reset via /proc/self/clear_refs) - RSS '
                            'before the call', 'threads': 2, 'torch_version': '2.x'}
    rec.update(extra)
    return rec


def make_measured_de():
    ref = {'params': 3638993, 'macs': 141096541992, 'latency_ms': 900.0}
    return make_measured(
        'de_memorynet', framework='DiffusionEnhancement', params=36805224,
        macs=259179000000, latency_ms=4000.0,
        macs_by_op_G={'bmm': 60.03, 'convolution': 199.14, 'addmm': 0.004},
        components={'cnp': {'params': 32144740}, 'weight_net': {'params': 4660484},
                    'reference': ref},
        reference_type='MemoryNet', reference_checkpoint_exists=False,
        sampling={'method': 'estimate', 'sampler': 'DDIMSampler', 'steps': 50, 'nfe': 50,
                  'macs': 141096541992 + 50 * 259179000000, 'latency_ms': 900.0 + 50 * 4000.0})


def test_efficiency_measured_beside_reported(tmp_path):
    eff_dir = write_runs(tmp_path / 'efficiency', mn=make_measured(), de=make_measured_de(),
                         broken='{"kind": ', run=make_run(),
                         neg=make_measured(latency_ms=-1.0))
    with pytest.warns(LeaderboardWarning) as rec:
        res = write_leaderboard(tmp_path / 'results', REPORTED, tmp_path / 'out',
                                efficiency_dir=eff_dir)
    skipped = sorted(Path(p).name for p, _ in res['skipped'])
    assert skipped == ['broken.json', 'neg.json', 'run.json']
    assert all(n in ' '.join(str(w.message) for w in rec) for n in skipped)
    assert [m['model'] for m in res['measured']] == ['memorynet', 'de_memorynet']
    md = (tmp_path / 'out' / 'README.md').read_text('utf-8')
    rows = md_sections(md)['Efficiency']
    mn = [r for r in rows if r['Model'] == 'MemoryNet']
    assert [r['Row'] for r in mn] == ['reported', 'reported', 'measured']
    assert mn[1]['MACs (G)'] == '548.65'  # EMRDM Table 6(b), beside ours
    m = mn[2]
    assert (m['Params (M)'], m['MACs (G)'], m['Latency (ms)'], m['Memory (MB)']) == \
        ('3.639', '141.10', '1234.5', '321')
    assert m['Input'] == '1×4×256×256' and m['Dataset'] == 'CUHK-CR2'
    assert 'configs/memorynet/memorynet_cuhkcr2.py' in m['Source']
    assert 'CPU resident-set increase' in m['Notes'] and '2 thread(s)' in m['Notes']
    de = next(r for r in rows if r['Model'] == 'DE-MemoryNet')
    assert de['Params (M)'] == '36.805' and de['Sampling (ms/img)'] == '200900.0 (est.)'
    assert 'NFE 50' in de['Notes'] and 'random weights' in de['Notes']
    assert 'convolutions only: 199.14 G MACs' in de['Notes']
    assert 'convolutions only' not in m['Notes']  # MemoryNet is all convolutions
    assert 'reference MemoryNet (once per image): 3.639 M params, 141.10 G MACs' in de['Notes']
    # the DE rows sit together: the paper's 'DE' row right before our DE-MemoryNet row
    names = [r['Model'] for r in rows]
    assert names.index('DE-MemoryNet') == len(names) - 1 - names[::-1].index(
        'DE (DE-MemoryNet / DE-MSDA)') + 1
    assert 'est.' in md and '`efficiency/`' in md
    html = (tmp_path / 'out' / 'index.html').read_text('utf-8')
    assert html.count('<tr class="measured">') == 2
    assert 'data-v="200900.0"' in html  # sortable by the number, not the "(est.)" text


def test_load_measured_missing_dir(tmp_path):
    assert load_measured(tmp_path / 'nothing') == ([], [])


def test_plots_written_linked_idempotent(tmp_path):
    from crbench.leaderboard.plots import metric_values, scatter_points
    reported = small_reported(tmp_path, (
        'memorynet,CUHK-CR2,PSNR,24.224,src,T,cuhk_official,\n'
        'memorynet,CUHK-CR2,SSIM,0.6838,src,T,cuhk_official,\n'
        'msda_cr,CUHK-CR2,PSNR,23.755,src,T,cuhk_official,\n'
        'de_memorynet,CUHK-CR2,PSNR,24.35,src,T,cuhk_official,\n'
        'cvae,CUHK-CR2,PSNR,99.0,src,T,standard,\n'))
    (tmp_path / 'reported_efficiency.csv').write_text(
        'model,params_M,macs_G,source,table,dataset,note\n'
        'memorynet,3.64,548.65,src,Table 6(b),CUHK-CR,\n'
        'de,36.80,199.15,src,Table 6(b),CUHK-CR,\n'
        'msda_cr,3.91,,src,Table X,,\n')
    eff_dir = write_runs(tmp_path / 'efficiency', a=make_measured(),
                         small=make_measured('msda_cr', size=32))
    results = write_runs(tmp_path / 'results',
                         r=make_run(metrics={'PSNR': 25.0, 'SSIM': 0.7}),
                         s=make_run('msda_cr', metrics={'PSNR': 50.0}, synthetic=True,
                                    run_id='syn'))
    outs = []
    for name in ('a', 'b', 'a'):
        (tmp_path / name / 'plots').mkdir(parents=True, exist_ok=True)
        (tmp_path / name / 'plots' / 'stale.png').write_bytes(b'old')
        import matplotlib
        with matplotlib.rc_context({'font.size': 13 if name == 'b' else 10}):
            # a user's matplotlib style changes nothing, and is left as it was
            res = write_leaderboard(results, reported, tmp_path / name,
                                    efficiency_dir=eff_dir, plots=True)
            assert matplotlib.rcParams['font.size'] == (13 if name == 'b' else 10)
        files = sorted(p.relative_to(tmp_path / name).as_posix()
                       for p in (tmp_path / name).rglob('*') if p.is_file())
        outs.append({f: (tmp_path / name / f).read_bytes() for f in files})
    assert outs[0] == outs[1] == outs[2]  # byte-identical, PNGs included
    assert sorted(outs[0]) == ['README.md', 'index.html', 'leaderboard.csv',
                               'plots/cuhk-cr2_metrics.png', 'plots/quality_vs_cost.png']
    for f in ('plots/cuhk-cr2_metrics.png', 'plots/quality_vs_cost.png'):
        assert outs[0][f].startswith(b'\x89PNG\r\n\x1a\n') and len(outs[0][f]) > 5000
        assert b'Software' not in outs[0][f] and b'matplotlib' not in outs[0][f]
    md = outs[0]['README.md'].decode()
    assert '![CUHK-CR2: metrics, reported and reproduced](plots/cuhk-cr2_metrics.png)' in md
    assert '](plots/quality_vs_cost.png)' in md
    html = outs[0]['index.html'].decode()
    links = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert sorted(links) == ['plots/cuhk-cr2_metrics.png', 'plots/quality_vs_cost.png']
    assert 'http://' not in html and 'https://' not in html
    # what is plotted: official protocol, real runs; reported MACs via CUHK-CR and 'de' alias;
    # measured MACs only from 256x256 measurements
    vals = metric_values(res['tidy'])
    assert 'cvae' not in set(vals.model) and 50.0 not in set(vals.value)
    pts = scatter_points(res['tidy'], res['efficiency'], res['measured'])
    got = {(r.model, r.psnr_kind, r.macs_kind): (r.psnr, r.macs_G) for r in pts.itertuples()}
    assert got == {
        ('memorynet', 'reported', 'reported'): (24.224, 548.65),
        ('memorynet', 'reported', 'measured'): (24.224, pytest.approx(141.096541992)),
        ('memorynet', 'reproduced', 'reported'): (25.0, 548.65),
        ('memorynet', 'reproduced', 'measured'): (25.0, pytest.approx(141.096541992)),
        ('de_memorynet', 'reported', 'reported'): (24.35, 199.15),
    }
    assert set(pts.dataset) == {'CUHK-CR2'}


def test_missing_plugin_of_a_run_does_not_block_the_leaderboard(tmp_path, capsys):
    config = tmp_path / 'plugin_config.py'
    config.write_text("custom_imports = dict(imports=['no_such_plugin_pkg'])\n")
    results = write_runs(tmp_path / 'results',
                         p=make_run('plugin_net', 'Pluto-CR', run_id='p', config=str(config)))
    with pytest.warns(LeaderboardWarning, match='no_such_plugin_pkg'):
        write_leaderboard(results, REPORTED, tmp_path / 'out', efficiency=None,
                          efficiency_dir=None)
    rows = md_sections((tmp_path / 'out' / 'README.md').read_text('utf-8'))['Pluto-CR']
    assert "model 'plugin_net' is not in the model index" in rows[0]['Notes']

    # the command says why the rows are labelled unknown
    assert load_tool('leaderboard').main(['--results-dir', str(results), '--reported',
                                          str(REPORTED), '--out-dir', str(tmp_path / 'cli'),
                                          '--no-plots']) == 0
    assert "cannot import 'no_such_plugin_pkg'" in capsys.readouterr().out
