"End-to-end: what a researcher running many experiments meets when something is wrong, and what the package says."
import json, os, signal, socket, subprocess, time
from pathlib import Path

import torch

from test_train_e2e import TINY, blackvip

ROOT = Path(__file__).resolve().parents[1]


def grid(tmp_path, axes, **params):
    g = {'notebook': str(ROOT / 'nbs' / '10_table2_synthetic.ipynb'),
         'parameters': {'steps': 1, 'shots': 1, 'batch_size': 4, 'test_shots': 1, 'hparams': {'sp_avg': 1}, **params}, 'grid': axes}
    (tmp_path / 'grid.json').write_text(json.dumps(g))
    return str(tmp_path / 'grid.json')


def test_batch_with_a_bad_grid_starts_nothing_and_says_every_problem(tmp_path):
    g = grid(tmp_path, {'dataset': ['loc_mnist_1to1', 'no_such_set'], 'method': ['blackvip', 'blackvipp'], 'seed': [1]})
    t = time.time()
    r = blackvip(['batch', g, '--out', 'res'], tmp_path)
    assert r.returncode == 2 and time.time() - t < 30, r.stderr
    assert "Unknown method 'blackvipp'" in r.stderr and "Unknown dataset 'no_such_set'" in r.stderr and 'none was started' in r.stderr
    assert not (tmp_path / 'res').exists() and 'Traceback' not in r.stderr


def test_batch_where_every_run_fails_exits_non_zero_and_writes_no_table(tmp_path):
    g = grid(tmp_path, {'dataset': ['eurosat'], 'method': ['zeroshot', 'blackvip'], 'seed': [1]}, root=str(tmp_path / 'no_data'))
    r = blackvip(['batch', g, '--out', 'res'], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert not (tmp_path / 'res' / 'table.md').exists() and not (tmp_path / 'res' / 'table.png').exists()
    assert 'no table was written' in r.stdout and '.png' not in r.stdout
    assert '2 runs failed' in r.stderr and '2 x ' in r.stderr and 'Fix what they name' in r.stderr
    assert len(list((tmp_path / 'res' / 'runs').glob('*/error.txt'))) == 2


def test_batch_names_the_files_it_wrote(tmp_path):
    g = grid(tmp_path, {'dataset': ['loc_mnist_1to1'], 'method': ['zeroshot'], 'seed': [1]})
    r = blackvip(['batch', g, '--out', 'res'], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"written: {Path('res') / 'table.md'}, {Path('res') / 'table.csv'}, {Path('res') / 'table.png'}" in r.stdout


def test_a_second_run_into_a_busy_folder_is_refused_and_a_dead_runs_lock_is_taken_over(tmp_path):
    args = ['train', '--method', 'blackvip', '--steps', '20000', *TINY]            # far more steps than the test waits for
    env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg')
    first = subprocess.Popen(['blackvip', *args, '--out', 'busy'], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / 'busy' / 'metrics.jsonl'
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.05)
    lock = json.loads((tmp_path / 'busy' / 'run.lock').read_text())
    assert (lock['pid'], lock['host']) == (first.pid, socket.gethostname())
    second = blackvip([*args, '--out', 'busy'], tmp_path)
    assert first.poll() is None, 'the first run ended before the second started: the test would prove nothing'
    assert second.returncode == 2 and 'in use by another run' in second.stderr and f'process {first.pid}' in second.stderr, second.stderr
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert (tmp_path / 'busy' / 'run.lock').exists()                      # SIGKILL leaves the lock behind
    again = blackvip(['train', '--method', 'blackvip', '--steps', '3', *TINY, '--out', 'busy', '--no-resume'], tmp_path)
    assert again.returncode == 0, again.stderr
    assert f'taking over the lock of process {first.pid}' in again.stdout
    assert not (tmp_path / 'busy' / 'run.lock').exists()
    steps = [json.loads(l)['step'] for l in metrics.read_text().splitlines() if 'loss' in json.loads(l)]
    assert steps == [1, 2, 3]                                              # one run's metrics, in order


def test_extending_a_finished_run_says_so(tmp_path):
    assert blackvip(['train', '--method', 'blackvip', '--steps', '2', '--out', 'e', *TINY], tmp_path).returncode == 0
    r = blackvip(['train', '--method', 'blackvip', '--steps', '3', '--out', 'e', *TINY], tmp_path)
    assert r.returncode == 0 and 'holds a finished run planned for 2 steps' in r.stdout and 'extending it from 2 to 3 steps' in r.stdout, r.stdout


def test_files_of_the_wrong_kind_are_refused_with_the_package_s_message(tmp_path):
    torch.save({'step': torch.tensor(1), 'weights': torch.zeros(3)}, tmp_path / 'other.pt')
    r = blackvip(['train', '--method', 'blackvip', '--steps', '1', '--target', 'other.pt', '--out', 't', *TINY], tmp_path)
    assert r.returncode == 2 and "other.pt is not a digit classifier: it holds no 'width'" in r.stderr and '--target' in r.stderr, r.stderr
    assert 'KeyError' not in r.stderr and 'Traceback' not in r.stderr
    (tmp_path / 'c').mkdir()
    torch.save({'width': torch.tensor(8)}, tmp_path / 'c' / 'checkpoint.pt')           # a torch dict, not a checkpoint
    r = blackvip(['train', '--method', 'blackvip', '--steps', '1', '--out', 'c', *TINY], tmp_path)
    assert r.returncode == 2 and 'is not a checkpoint: it holds no' in r.stderr and 'Delete it' in r.stderr, r.stderr
    assert blackvip(['train', '--method', 'blackvip', '--steps', '1', '--out', 'p', *TINY], tmp_path).returncode == 0
    (tmp_path / 'p' / 'prompt.pt').write_bytes(b'\x80\x02garbage')
    r = blackvip(['eval', '--out', 'p'], tmp_path)
    assert r.returncode == 2 and 'prompt.pt is not a saved prompt that loads safely' in r.stderr and 'Re-run training' in r.stderr
    assert 'weights_only=False' not in r.stderr and 'arbitrary code' not in r.stderr and 'Traceback' not in r.stderr


def test_an_output_folder_that_cannot_be_made_names_out(tmp_path):
    r = blackvip(['train', '--method', 'blackvip', '--steps', '1', '--out', '/proc/blackvip-run', *TINY], tmp_path)
    assert r.returncode == 2 and 'Cannot create the run folder /proc/blackvip-run' in r.stderr and '--out' in r.stderr, r.stderr
    r = blackvip(['batch', grid(tmp_path, {'seed': [1]}), '--out', '/proc/blackvip-res'], tmp_path)
    assert r.returncode == 2 and 'Cannot create the results folder /proc/blackvip-res' in r.stderr and '--out' in r.stderr, r.stderr


def test_a_clip_checkpoint_that_is_not_one_is_named_without_unsafe_advice(tmp_path):
    (tmp_path / 'rn50.bin').write_bytes(b'\x80\x02 not a checkpoint')
    r = blackvip(['train', '--method', 'zeroshot', '--target', 'RN50', '--pretrained', 'rn50.bin', '--out', 'z', *TINY], tmp_path)
    assert r.returncode == 2 and 'rn50.bin is not a checkpoint of RN50 that loads safely' in r.stderr and '--pretrained PATH' in r.stderr, r.stderr
    assert 'weights_only' not in r.stderr and 'arbitrary code' not in r.stderr and 'Traceback' not in r.stderr
