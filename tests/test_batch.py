"End-to-end: papermill experiment runs, the batch runner, and the Dask executor."
import json, os, shlex, shutil, subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = {'steps': 1, 'shots': 1, 'batch_size': 4, 'test_shots': 1, 'hparams': {'sp_avg': 1}}


def grid_file(tmp_path, grid):
    g = {'notebook': str(ROOT / 'nbs' / '10_table2_synthetic.ipynb'), 'parameters': TINY, **grid}
    path = tmp_path / 'grid.json'
    path.write_text(json.dumps(g))
    return path


@pytest.fixture(autouse=True)
def data_env(tmp_path, monkeypatch):
    monkeypatch.setenv('BLACKVIP_DATA', str(tmp_path / 'data'))
    monkeypatch.setenv('MPLBACKEND', 'Agg')


def test_papermill_run_writes_record(tmp_path):
    import papermill as pm
    out = tmp_path / 'run'
    pm.execute_notebook(str(ROOT / 'nbs' / '10_table2_synthetic.ipynb'), str(tmp_path / 'executed.ipynb'),
                        parameters={**TINY, 'method': 'vp_spsa_gc', 'dataset': 'biased_mnist_0.8', 'seed': 3, 'out_dir': str(out)},
                        kernel_name='python3', execution_timeout=600, progress_bar=False)
    rec = json.loads((out / 'result.json').read_text())
    assert (rec['method'], rec['dataset'], rec['seed'], rec['steps']) == ('vp_spsa_gc', 'biased_mnist_0.8', 3, 1)
    assert rec['queries'] == 2 * 1 * 4 and 0 <= rec['accuracy'] <= 1
    assert rec['settings']['sp_avg'] == 1 and rec['wall_time_s'] > 0 and rec['peak_memory_mb'] > 0


def test_batch_cli_skips_done_runs_and_prints_same_table(tmp_path):
    grid = grid_file(tmp_path, {'grid': {'dataset': ['loc_mnist_1to1'], 'method': ['zeroshot', 'blackvip'], 'seed': [1]}})
    env = dict(os.environ)
    first = subprocess.run(['blackvip', 'batch', str(grid), '--out', 'res'], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert '2 to run' in first.stdout and '| loc_mnist_1to1 |' in first.stdout
    second = subprocess.run(['blackvip', 'batch', str(grid), '--out', 'res'], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert '2 already done, 0 to run' in second.stdout
    table = lambda out: out[out.index('| dataset'):out.index('table of')]
    assert table(first.stdout) == table(second.stdout)
    assert (tmp_path / 'res' / 'table.csv').exists() and (tmp_path / 'res' / 'table.png').exists()
    # a run whose record is lost (killed midway) is the only one run again
    shutil.rmtree(next((tmp_path / 'res' / 'runs').glob('*blackvip*')))
    third = subprocess.run(['blackvip', 'batch', str(grid), '--out', 'res'], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert '1 already done, 1 to run' in third.stdout
    assert table(third.stdout) == table(first.stdout)


def test_failed_run_is_recorded_and_others_kept(tmp_path):
    grid = grid_file(tmp_path, {'grid': {'dataset': ['loc_mnist_1to1', 'no_such_set'], 'method': ['zeroshot'], 'seed': [1]}})
    from blackvip.batch import run_batch
    result = run_batch(grid, tmp_path / 'res', progress=False)
    assert [r['dataset'] for r in result.records] == ['loc_mnist_1to1'] and len(result.failed) == 1
    errors = list((tmp_path / 'res' / 'runs').glob('*/error.txt'))
    assert len(errors) == 1 and 'Unknown dataset' in errors[0].read_text()


def test_dask_local_cluster_gives_same_records(tmp_path):
    from distributed import LocalCluster, Client
    from blackvip.batch import run_batch, DaskExecutor, LocalExecutor
    grid = grid_file(tmp_path, {'grid': {'dataset': ['biased_mnist_0.9'], 'method': ['blackvip', 'bar'], 'seed': [2]}})
    local = run_batch(grid, tmp_path / 'local', LocalExecutor(1), progress=False).records
    with LocalCluster(n_workers=1, threads_per_worker=1, host='127.0.0.1', dashboard_address=None) as cluster, Client(cluster) as client:
        remote = run_batch(grid, tmp_path / 'dask', DaskExecutor(client), progress=False).records
    keep = lambda r: {k: r[k] for k in ('method', 'dataset', 'seed', 'accuracy', 'queries', 'steps', 'settings')}
    assert len(local) == 2 and [keep(r) for r in local] == [keep(r) for r in remote]


def isolated(cmd, hide, cwd, env, log):
    "Start `cmd` in `cwd` inside a mount namespace of its own in which folder `hide` is an empty tmpfs: it cannot see what is there."
    script = f"mount -t tmpfs tmpfs {shlex.quote(str(hide))} && exec {shlex.join(cmd)}"
    return subprocess.Popen(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], cwd=cwd, env=env, stdout=log, stderr=log)


def can_unshare():
    return shutil.which('unshare') is not None and subprocess.run(['unshare', '--mount', 'true'], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_unshare(), reason='needs mount namespaces (unshare --mount) to give the workers a disk of their own')
def test_cluster_without_a_shared_disk_brings_every_record_home(tmp_path):
    from distributed import Client
    from blackvip.api import free_port
    client_dir = tmp_path / 'client'
    (client_dir / 'nbs').mkdir(parents=True)
    shutil.copy(ROOT / 'nbs' / '10_table2_synthetic.ipynb', client_dir / 'nbs' / 'table2.ipynb')   # a notebook the workers cannot read
    grid = {'notebook': str(client_dir / 'nbs' / 'table2.ipynb'), 'parameters': TINY,
            'grid': {'dataset': ['loc_mnist_1to1'], 'method': ['zeroshot', 'blackvip'], 'seed': [1, 2]}}
    (client_dir / 'grid.json').write_text(json.dumps(grid))
    port, log = free_port(), open(tmp_path / 'cluster.log', 'w')
    address = f'tcp://127.0.0.1:{port}'
    procs = [subprocess.Popen(['dask', 'scheduler', '--host', '127.0.0.1', '--port', str(port), '--no-dashboard'], stdout=log, stderr=log)]
    try:
        for w in ('w1', 'w2'):
            (tmp_path / w).mkdir()
            env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / w / 'data'), MPLBACKEND='Agg', OMP_NUM_THREADS='1')
            procs.append(isolated(['dask', 'worker', address, '--nthreads', '1', '--no-dashboard', '--local-directory', str(tmp_path / w)],
                                  client_dir, tmp_path / w, env, log))
        with Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=120)
            seen = c.run(lambda: os.path.exists(str(client_dir / 'grid.json')))
        assert len(seen) == 2 and not any(seen.values()), f'the workers can see the client folder: {seen}'
        env = dict(os.environ, BLACKVIP_DATA=str(client_dir / 'data'), MPLBACKEND='Agg')
        remote = subprocess.run(['blackvip', 'batch', 'grid.json', '--out', 'res', '--scheduler', address],
                                cwd=client_dir, env=env, capture_output=True, text=True, timeout=900)
    finally:
        for p in procs: p.kill(); p.wait()
    assert remote.returncode == 0, remote.stdout + remote.stderr + (tmp_path / 'cluster.log').read_text()[-3000:]
    runs = sorted((client_dir / 'res' / 'runs').iterdir())
    assert len(runs) == 4 and all((r / 'result.json').exists() and (r / 'executed.ipynb').exists() and (r / 'metrics.jsonl').exists() for r in runs)
    assert all((r / 'prompt.pt').exists() for r in runs if '_blackvip_' in r.name)
    local = subprocess.run(['blackvip', 'batch', 'grid.json', '--out', 'local', '--workers', '2'], cwd=client_dir, env=env,
                           capture_output=True, text=True, timeout=900)
    assert local.returncode == 0, local.stderr
    assert (client_dir / 'res' / 'table.md').read_text() == (client_dir / 'local' / 'table.md').read_text()
    keep = lambda r: {k: r[k] for k in ('method', 'dataset', 'seed', 'accuracy', 'queries', 'steps')}
    records = lambda d: sorted((keep(json.loads(f.read_text())) for f in (client_dir / d / 'runs').glob('*/result.json')), key=json.dumps)
    assert records('res') == records('local')


def test_experiment_notebook_takes_an_estimator_and_its_surrogate(tmp_path):
    import papermill as pm
    out = tmp_path / 'run'
    pm.execute_notebook(str(ROOT / 'nbs' / '10_table2_synthetic.ipynb'), str(tmp_path / 'executed.ipynb'),
                        parameters={**TINY, 'method': 'blackvip', 'dataset': 'loc_mnist_1to1', 'estimator': 'transfer-prior-gc',
                                    'surrogate': 'uci-digits', 'out_dir': str(out)},
                        kernel_name='python3', execution_timeout=600, progress_bar=False)
    rec = json.loads((out / 'result.json').read_text())
    assert rec['settings']['hparams']['estimator'] == 'transfer-prior-gc' and rec['surrogate']['name'] == 'uci-digits'
