"End-to-end: `blackvip train` / `eval` as a user runs them, kills, budgets and broken files."
import json, os, signal, subprocess, time

import pytest
import torch

TINY = ['--dataset', 'loc_mnist_1to4', '--shots', '1', '--batch-size', '4', '--test-shots', '1', '--sp-avg', '1',
        '--ckpt-every', '1']


def paid(steps, n=10, batch=4, seed=1, copies=2):
    "Queries of `steps` uninterrupted steps on TINY's 10 training images (an epoch's last batch is smaller)."
    from blackvip.train import batch_indices
    return copies * sum(len(batch_indices(n, batch, seed, s)) for s in range(steps))


def blackvip(args, tmp_path, **kw):
    env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg')
    return subprocess.run(['blackvip', *args], capture_output=True, text=True, env=env, cwd=tmp_path, **kw)


def test_train_then_eval(tmp_path):
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--out', 'run', '--compare-zeroshot', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'zero-shot accuracy' in r.stdout and 'blackvip accuracy' in r.stdout
    rec = json.loads((tmp_path / 'run' / 'result.json').read_text())
    assert rec['status'] == 'finished' and rec['queries'] == 2 * 2 * 4
    assert (tmp_path / 'run' / 'prompts.png').exists() and (tmp_path / 'run' / 'curve.png').exists()
    e = blackvip(['eval', '--out', 'run'], tmp_path)
    assert e.returncode == 0, e.stderr
    assert f"accuracy {rec['accuracy']:.2%}" in e.stdout


@pytest.mark.parametrize('estimator', ['spsa-gc', 'cma-es', 'subspace-spsa-gc'])
def test_killed_run_resumes_bit_identical(tmp_path, estimator):
    args = ['train', '--method', 'blackvip', '--steps', '6', '--estimator', estimator, '--popsize', '3', '--subspace-dim', '8', *TINY]
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
    rec = json.loads((tmp_path / 'killed' / 'result.json').read_text())
    copies = 3 if estimator == 'cma-es' else 2                        # popsize 3, or 2 sp_avg
    assert rec['queries'] == paid(6, copies=copies) + rec['queries_redone']          # what was paid, redone steps included


def test_budget_ends_run_cleanly(tmp_path):
    r = blackvip(['train', '--method', 'vp_spsa_gc', '--steps', '5', '--budget-images', '18', '--out', 'b', *TINY], tmp_path)
    assert r.returncode == 1, r.stderr                      # the run did not finish as asked
    assert 'Query budget exhausted' in r.stdout + r.stderr and 'stopped early (budget_exhausted)' in r.stderr
    rec = json.loads((tmp_path / 'b' / 'result.json').read_text())
    assert rec['status'] == 'budget_exhausted' and rec['queries'] <= 18
    assert (tmp_path / 'b' / 'checkpoint.pt').exists()


def test_call_budget_ends_run_cleanly(tmp_path):
    r = blackvip(['train', '--method', 'blackvip', '--steps', '5', '--budget-calls', '2', '--out', 'b', *TINY], tmp_path)
    assert r.returncode == 1 and 'Raise the budget (--budget-calls)' in r.stdout + r.stderr, r.stderr
    rec = json.loads((tmp_path / 'b' / 'result.json').read_text())
    assert (rec['status'], rec['steps'], rec['calls'], rec['queries']) == ('budget_exhausted', 2, 2, paid(2))


@pytest.mark.parametrize('method', ['blackvip', 'vp_spsa_gc'])
@pytest.mark.parametrize('estimator,per_step', [('spsa-gc-clip', 2), ('subspace-cma-es', 3)])
def test_estimator_flag(tmp_path, method, estimator, per_step):
    r = blackvip(['train', '--method', method, '--steps', '2', '--estimator', estimator, '--popsize', '3', '--subspace-dim', '8',
                  '--out', 'e', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / 'e' / 'result.json').read_text())
    assert rec['settings']['hparams']['estimator'] == estimator and rec['queries'] == paid(2, copies=per_step) and rec['calls'] == 2


def test_corrupt_checkpoint_is_named(tmp_path):
    (tmp_path / 'c').mkdir()
    (tmp_path / 'c' / 'checkpoint.pt').write_bytes(b'garbage')
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--out', 'c', *TINY], tmp_path)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    assert 'checkpoint.pt is not a checkpoint that loads safely' in r.stderr and 'Delete it' in r.stderr
    assert 'weights_only=False' not in r.stderr and 'arbitrary code' not in r.stderr          # PyTorch's unsafe advice never shows


def test_other_settings_refuse_to_resume(tmp_path):
    assert blackvip(['train', '--method', 'blackvip', '--steps', '1', '--out', 'r', *TINY], tmp_path).returncode == 0
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--seed', '7', '--out', 'r', *TINY], tmp_path)
    assert r.returncode == 2 and 'other settings' in r.stderr


@pytest.mark.parametrize('args,msg', [
    (['--method', 'blackvip', '--c', '0'], 'c=0.0; it must be > 0'),
    (['--method', 'blackvip', '--dataset', 'cifar'], 'Unknown dataset'),
    (['--method', 'vp_whitebox', '--no-allow-gradients'], 'answers queries only'),
    (['--method', 'blackvip', '--estimator', 'exact-gc', '--no-allow-gradients'], '--estimator exact-gc'),
    (['--method', 'blackvip', '--estimator', 'exact-gc', '--exact-cos', '0'], 'exact_cos=0.0'),
    (['--method', 'blackvip', '--estimator', 'subspace-exact-gc', '--no-allow-gradients'], 'subspace-exact-gc'),
    (['--method', 'blackvip', '--shots', '401'], 'at most 400 shots'),
    (['--method', 'blackvip', '--p-eps', '-1'], 'p_eps=-1'),
    (['--method', 'blackvip', '--alpha', '-1'], 'alpha=-1'),
    (['--method', 'blackvip', '--gamma', '-1'], 'gamma=-1'),
    (['--method', 'blackvip', '--budget-images', '0'], 'budget_images=0'), (['--method', 'blackvip', '--budget-calls', '0'], 'budget_calls=0'),
    (['--method', 'blackvip', '--timeout', '-1'], 'timeout=-1'),
    (['--method', 'blackvip', '--test-shots', '0'], '--test-shots'), (['--method', 'blackvip', '--eval-every', '-1'], '--eval-every'),
    (['--method', 'blackvip', '--seed', '-1'], '--seed'), (['--method', 'blackvip', '--max-batch', '0'], '--max-batch'),
])
def test_bad_input_says_what_to_do(tmp_path, args, msg):
    r = blackvip(['train', '--steps', '1', '--out', 'x', *TINY[:2], *args], tmp_path)
    assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'x').exists()


def test_finished_run_is_reported_not_redone(tmp_path):
    args = ['train', '--method', 'blackvip', '--steps', '2', '--out', 'f', '--compare-zeroshot', *TINY]
    first = blackvip(args, tmp_path)
    assert first.returncode == 0, first.stderr
    before = {f: (tmp_path / 'f' / f).read_bytes() for f in ('result.json', 'metrics.jsonl', 'zeroshot/result.json')}
    t = time.time()
    again = blackvip(args, tmp_path)
    assert again.returncode == 0 and time.time() - t < 10, again.stderr
    assert 'already holds this finished run' in again.stdout
    assert [l for l in again.stdout.splitlines() if 'accuracy' in l] == [l for l in first.stdout.splitlines() if 'accuracy' in l]
    assert all((tmp_path / 'f' / f).read_bytes() == b for f, b in before.items())
    fresh = blackvip([*args, '--no-resume'], tmp_path)
    assert fresh.returncode == 0 and 'already holds' not in fresh.stdout


def test_folder_with_longer_run_refuses_fewer_steps(tmp_path):
    assert blackvip(['train', '--method', 'blackvip', '--steps', '3', '--out', 'l', *TINY], tmp_path).returncode == 0
    before = (tmp_path / 'l' / 'result.json').read_bytes()
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--out', 'l', *TINY], tmp_path)
    assert r.returncode == 2 and 'holds a run of 3 steps' in r.stderr and 'Traceback' not in r.stderr
    assert (tmp_path / 'l' / 'result.json').read_bytes() == before
    ext = blackvip(['train', '--method', 'blackvip', '--steps', '4', '--out', 'l', *TINY], tmp_path)
    assert ext.returncode == 0, ext.stderr
    rec = json.loads((tmp_path / 'l' / 'result.json').read_text())
    assert (rec['steps'], rec['extended_from'], rec['queries']) == (4, 3, paid(4))
    assert blackvip(['train', '--method', 'bar', '--steps', '2', '--out', 'bar', *TINY], tmp_path).returncode == 0
    r = blackvip(['train', '--method', 'bar', '--steps', '3', '--out', 'bar', *TINY], tmp_path)
    assert r.returncode == 2 and 'depends on the total' in r.stderr


def test_ctrl_c_saves_checkpoint_and_resumes_bit_identical(tmp_path):
    args = ['train', '--method', 'blackvip', '--steps', '30', *TINY[:-2], '--ckpt-every', '1000']
    assert blackvip([*args, '--out', 'full'], tmp_path).returncode == 0
    env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg')
    p = subprocess.Popen(['blackvip', *args, '--out', 'int'], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / 'int' / 'metrics.jsonl'
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and 'Run the same command again to resume' in err and 'Traceback' not in err, err
    assert (tmp_path / 'int' / 'checkpoint.pt').exists() and not (tmp_path / 'int' / 'result.json').exists()
    first_part = torch.load(tmp_path / 'int' / 'checkpoint.pt', weights_only=True)['wall_time']
    resumed = blackvip([*args, '--out', 'int'], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / 'int' / 'result.json').read_text())['wall_time_s'] > first_part > 0   # the parts add up
    a = torch.load(tmp_path / 'full' / 'prompt.pt', weights_only=True)
    b = torch.load(tmp_path / 'int' / 'prompt.pt', weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_failed_run_leaves_no_empty_folder(tmp_path):
    r = blackvip(['train', '--method', 'vp_whitebox', '--no-allow-gradients', '--steps', '1', '--out', 'wb', *TINY], tmp_path)
    assert r.returncode == 2 and not (tmp_path / 'wb').exists()


def test_read_only_folder_and_full_disk_name_the_problem(tmp_path, monkeypatch, capsys):
    """Simulated in-process (the tests run as root, which ignores permissions): `Path.mkdir` raising EROFS for a
    read-only --out, and `torch.save` raising PyTorch's own full-disk error while a checkpoint is written."""
    import errno, pathlib
    from blackvip.cli import main
    monkeypatch.setenv('BLACKVIP_DATA', str(tmp_path / 'data'))
    monkeypatch.chdir(tmp_path)
    real_mkdir = pathlib.Path.mkdir
    def read_only(self, *a, **k):
        if self.name == 'ro': raise OSError(errno.EROFS, 'Read-only file system', str(self))
        return real_mkdir(self, *a, **k)
    monkeypatch.setattr(pathlib.Path, 'mkdir', read_only)
    with pytest.raises(SystemExit) as e: main(['train', '--method', 'blackvip', '--steps', '1', '--out', 'ro', *TINY])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'ro' in err and 'Read-only file system' in err and 'Traceback' not in err
    monkeypatch.setattr(pathlib.Path, 'mkdir', real_mkdir)
    main(['train', '--method', 'blackvip', '--steps', '2', '--out', 'disk', *TINY])
    good = torch.load(tmp_path / 'disk' / 'checkpoint.pt', weights_only=True)
    real_save = torch.save
    def full(obj, f, *a, **k):
        if str(f).endswith('.tmp'):
            real_save(obj, f, *a, **k)   # a partial file is left behind, as a full disk does
            raise RuntimeError('[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: file write failed')
        return real_save(obj, f, *a, **k)
    monkeypatch.setattr(torch, 'save', full)
    with pytest.raises(SystemExit) as e: main(['train', '--method', 'blackvip', '--steps', '3', '--out', 'disk', *TINY])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'Could not write the checkpoint' in err and 'last good checkpoint is kept' in err
    assert not (tmp_path / 'disk' / 'checkpoint.tmp').exists()
    kept = torch.load(tmp_path / 'disk' / 'checkpoint.pt', weights_only=True)
    assert kept['step'] == good['step'] == 2


@pytest.mark.skipif(__import__('blackvip.targets', fromlist=['hub_reachable']).hub_reachable(), reason='the hub is reachable here')
def test_offline_clip_fails_fast_with_one_clear_error(tmp_path):
    t = time.time()
    r = blackvip(['train', '--method', 'zeroshot', '--target', 'ViT-B-16', '--pretrained', 'openai', '--out', 'clip', *TINY], tmp_path)
    assert r.returncode == 2 and time.time() - t < 30, (time.time() - t, r.stderr)
    assert '--pretrained /path/to/open_clip_model.bin' in r.stderr and 'Traceback' not in r.stderr
    assert r.stderr.count('Retrying') == 0


PRIOR = ['train', '--method', 'blackvip', '--steps', '2', '--estimator', 'transfer-prior-gc', '--a', '1', *TINY]


def test_transfer_prior_trains_with_a_surrogate_and_records_it(tmp_path):
    r = blackvip([*PRIOR, '--surrogate', 'uci-digits', '--out', 'p'], tmp_path)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / 'p' / 'result.json').read_text())
    assert rec['queries'] == paid(2, copies=4) and rec['settings']['surrogate'] == 'uci-digits'   # prior_q = 2: 4 copies a step
    assert "UCI 8x8 digits" in rec['surrogate']['trained_on'] and rec['surrogate']['seconds'] > 0


def test_a_clip_target_takes_an_open_clip_surrogate(tmp_path):
    r = blackvip([*PRIOR, '--target', 'tiny-clip', '--surrogate', 'tiny-clip', '--out', 'c'], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / 'c' / 'result.json').read_text())['surrogate']['name'] == 'tiny-clip'


def test_surrogates_that_cannot_serve_are_refused(tmp_path):
    from blackvip.surrogate import SurrogateCNN, save_surrogate
    save_surrogate(SurrogateCNN(4), tmp_path / 'letters.pt', classnames=list('abcdefghij'))
    cases = [([*PRIOR, '--out', 'x'], '--surrogate NAME|PATH'),
             ([*PRIOR, '--surrogate', 'letters.pt', '--out', 'x'], "classifies into ['a', 'b'"),
             (['train', '--method', 'blackvip', '--steps', '1', '--surrogate', 'uci-digits', '--out', 'x', *TINY], 'would ignore it')]
    for args, msg in cases:
        r = blackvip(args, tmp_path)
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
        assert not (tmp_path / 'x').exists()


def test_exact_gradient_measurements_and_history_prior_train_from_the_command_line(tmp_path):
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--estimator', 'exact-gc', '--exact-cos', '0.5',
                  '--a', '1', '--out', 'e', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / 'e' / 'result.json').read_text())
    assert rec['queries'] == paid(2, copies=1) and rec['settings']['hparams']['exact_cos'] == 0.5   # the batch once a step
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--estimator', 'history-prior-gc', '--a', '1',
                  '--out', 'h', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / 'h' / 'result.json').read_text())['queries'] == paid(2, copies=4)
    r = blackvip(['train', '--method', 'blackvip', '--steps', '2', '--estimator', 'subspace-exact-gc', '--subspace-dim', '8',
                  '--out', 's', *TINY], tmp_path)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / 's' / 'result.json').read_text())
    assert rec['queries'] == paid(2, copies=1) and rec['settings']['hparams']['subspace_dim'] == 8
