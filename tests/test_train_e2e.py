"End-to-end: `blackvip train` / `eval` as a user runs them, kills, budgets and broken files."
import json, os, signal, subprocess, time

import pytest
import torch

TINY = ['--dataset', 'loc_mnist_1to4', '--shots', '1', '--batch-size', '4', '--test-shots', '1', '--sp-avg', '1',
        '--ckpt-every', '1']


def blackvip(args, tmp_path, **kw):
    env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg')
    return subprocess.run(['blackvip', *args], capture_output=True, text=True, env=env, cwd=tmp_path, **kw)


def test_train_then_eval(tmp_path):
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--out', 'run', '--compare-zeroshot', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'zero-shot accuracy' in r.stdout and 'blackvip accuracy' in r.stdout
    rec = json.loads((tmp_path / 'run' / 'result.json').read_text())
    assert rec['status'] == 'finished' and rec['queries'] == 2 * 2 * 4
    assert (tmp_path / 'run' / 'prompts.png').exists()
    e = blackvip(['eval', '--out', 'run'], tmp_path)
    assert e.returncode == 0, e.stderr
    assert f"accuracy {rec['accuracy']:.2%}" in e.stdout


def test_killed_run_resumes_bit_identical(tmp_path):
    args = ['train', '--method', 'blackvip', '--steps', '6', *TINY]
    full = blackvip([*args, '--out', 'full'], tmp_path)
    assert full.returncode == 0, full.stderr
    env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg')
    p = subprocess.Popen(['blackvip', *args, '--out', 'killed'], env=env, cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / 'killed' / 'metrics.jsonl'
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (tmp_path / 'killed' / 'result.json').exists(), 'the run finished before it could be killed'
    resumed = blackvip([*args, '--out', 'killed'], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / 'full' / 'prompt.pt', weights_only=True)
    b = torch.load(tmp_path / 'killed' / 'prompt.pt', weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    steps = [json.loads(l)['step'] for l in metrics.read_text().splitlines() if 'loss' in json.loads(l)]
    assert steps == list(range(1, 7))


def test_budget_ends_run_cleanly(tmp_path):
    r = blackvip(['train', '--method', 'vp_spsa_gc', '--steps', '5', '--budget', '18', '--out', 'b', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'Query budget exhausted' in r.stdout + r.stderr
    rec = json.loads((tmp_path / 'b' / 'result.json').read_text())
    assert rec['status'] == 'budget_exhausted' and rec['queries'] <= 18
    assert (tmp_path / 'b' / 'checkpoint.pt').exists()


def test_corrupt_checkpoint_is_named(tmp_path):
    (tmp_path / 'c').mkdir()
    (tmp_path / 'c' / 'checkpoint.pt').write_bytes(b'garbage')
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--out', 'c', *TINY], tmp_path)
    assert r.returncode == 2
    assert 'checkpoint.pt is unreadable' in r.stderr and 'Delete it' in r.stderr


def test_other_settings_refuse_to_resume(tmp_path):
    assert blackvip(['train', '--method', 'blackvip', '--steps', '1', '--out', 'r', *TINY], tmp_path).returncode == 0
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--seed', '7', '--out', 'r', *TINY], tmp_path)
    assert r.returncode == 2 and 'other settings' in r.stderr


@pytest.mark.parametrize('args,msg', [
    (['--method', 'blackvip', '--c', '0'], 'must be positive'),
    (['--method', 'blackvip', '--dataset', 'cifar'], 'Unknown dataset'),
    (['--method', 'vp_whitebox', '--no-whitebox'], 'answers queries only'),
    (['--method', 'blackvip', '--shots', '401'], 'at most 400 shots'),
])
def test_bad_input_says_what_to_do(tmp_path, args, msg):
    r = blackvip(['train', '--steps', '1', '--out', 'x', *TINY[:2], *args], tmp_path)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr
