"README.md is an entry point that stays true: its table is the committed records', its Python example runs."
import re
import subprocess
import sys
from pathlib import Path

from blackvip.batch import seeds_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / 'README.md').read_text()


def test_main_job_table_matches_records():
    folders = sorted((ROOT / 'results' / 'main_job').glob('seed*'))
    assert [f.name for f in folders] == ['seed1', 'seed2', 'seed3']
    table = seeds_markdown(folders)
    assert table in README, f'README.md must show the main job table of results/main_job:\n{table}'


def test_python_example_runs(tmp_path):
    "The README's Python example, run as a user would from an empty folder, trains and prints its accuracy and queries."
    code = re.search(r'<!-- python-example -->\n```python\n(.*?)```', README, re.S).group(1)
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.fullmatch(r'\d+\.\d% after 2,000 queries\n', r.stdout), r.stdout
    assert (tmp_path / 'runs' / 'example' / 'result.json').exists()


def test_readme_is_an_entry_point():
    "Short, with the paper, the reference code and a citation; every results folder it names exists."
    assert len(README.splitlines()) <= 120
    for needle in ('arxiv.org/abs/2303.14773', 'github.com/changdaeoh/BlackVIP', '@inproceedings'):
        assert needle in README
    for folder in re.findall(r'`(results/[\w/]+)/`', README):
        assert (ROOT / folder).is_dir(), folder
    for picture in re.findall(r'\]\((results/[\w/.]+\.png)\)', README):
        assert (ROOT / picture).is_file(), picture
    assert '(results/estimate_quality/quality.png)' in README      # the estimate-quality figure
