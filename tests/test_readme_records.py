"README.md's result tables are regenerated from the committed records: CI fails when the two disagree."
import json
from pathlib import Path

import pytest

from blackvip.batch import aggregate, seeds_markdown, table_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / 'README.md').read_text()


def test_main_job_table_matches_records():
    folders = sorted((ROOT / 'results' / 'main_job').glob('seed*'))
    assert [f.name for f in folders] == ['seed1', 'seed2', 'seed3']
    table = seeds_markdown(folders)
    assert table in README, f'README.md must show the main job table of results/main_job:\n{table}'


def test_embedded_table2_matches_records():
    records = [json.loads(f.read_text()) for f in sorted((ROOT / 'results' / 'table2_embedded' / 'runs').glob('*/result.json'))]
    assert records, 'no records under results/table2_embedded/runs'
    table = table_markdown(aggregate(records))
    assert table in README, f'README.md must show the embedded Table 2 of results/table2_embedded:\n{table}'
    assert (ROOT / 'results' / 'table2_embedded' / 'table.md').read_text().strip() == table


def test_stand_in_and_ceiling_tables_match_records():
    for folder, name in (('colour_standin', 'BlackVIP'), ('ceiling', 'BlackVIP, exact gradients')):
        runs = sorted(p.parent.parent for p in (ROOT / 'results' / folder).glob('*/zeroshot/result.json'))
        assert runs, f'no records under results/{folder}'
        table = seeds_markdown(runs, name, key='dataset', mean_row=False)
        assert table in README, f'README.md must show the table of results/{folder}:\n{table}'


def test_black_stand_in_table2_matches_records():
    records = [json.loads(f.read_text()) for f in sorted((ROOT / 'results' / 'table2_black_standin' / 'runs').glob('*/result.json'))]
    assert len(records) == 36, f'results/table2_black_standin holds {len(records)} of the grid\'s 36 runs'
    table = table_markdown(aggregate(records))
    assert table in README, f'README.md must show the Biased MNIST table of results/table2_black_standin:\n{table}'


@pytest.mark.parametrize('folder', ['query_efficiency', 'query_efficiency_heldout'])
def test_query_efficiency_table_matches_records(folder):
    import importlib.util
    spec = importlib.util.spec_from_file_location('qe', ROOT / 'bench' / 'query_efficiency.py')
    qe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qe)
    root = ROOT / 'results' / folder
    s = json.loads((root / 'settings.json').read_text())
    table = qe.table(qe.summarise(root, s['sets'], s['estimators'], s['seeds']), s['seeds'])
    assert table in README, f'README.md must show the query-efficiency table of results/{folder}:\n{table}'
    assert (root / 'table.md').read_text().strip() == table


def http_runs():
    "The HTTP section's run folders, seed by seed, in process first."
    order = ['in_process', 'npy', 'png']
    return sorted((f.parent for f in (ROOT / 'results' / 'http').glob('*/seed*/result.json')), key=lambda f: (f.name, order.index(f.parent.name)))


def test_http_table_matches_records():
    runs = http_runs()
    assert {f.parent.name for f in runs} == {'in_process', 'npy', 'png'}
    table = seeds_markdown(runs, mean_row=False, label=lambda f: f'{f.parent.name}, seed {f.name[4:]}')
    assert table in README, f'README.md must show the HTTP table of results/http:\n{table}'
    seed1 = json.loads((ROOT / 'results' / 'http' / 'in_process' / 'seed1' / 'result.json').read_text())['accuracy']
    assert f'seed 1 gave {100 * seed1:.1f}% on the machine of the HTTP section' in README
    overhead = (ROOT / 'results' / 'http' / 'overhead.md').read_text().split('\n\n', 1)[1].strip()
    assert overhead in README, 'README.md must show the table of results/http/overhead.md (python bench/http_overhead.py)'


def test_estimate_quality_table_matches_record():
    from blackvip.quality import quality_markdown
    record = json.loads((ROOT / 'results' / 'estimate_quality' / 'quality.json').read_text())
    table = quality_markdown(record)
    assert table in README, f'README.md must show the estimate-quality table of results/estimate_quality/quality.json:\n{table}'
    assert '(results/estimate_quality/quality.png)' in README
