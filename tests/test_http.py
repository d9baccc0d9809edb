"End-to-end over HTTP: `blackvip serve` on a free localhost port, queried by `HTTPTarget` and by `blackvip train --target http://...`."
import io, json, os, signal, subprocess, time

import httpx
import numpy as np
import pytest
import torch

from blackvip.api import HTTPTarget, encode_npy, free_port, NPY, JSON
from blackvip.targets import DigitTarget, load_digit_cnn
from test_train_e2e import TINY, blackvip, paid


def env_for(tmp_path, **extra):
    return dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg', **extra)


def start_server(tmp_path, *args, port=None, token=None):
    "`blackvip serve` in a process of its own on a free port (or `port`); returns the process and its URL once it answers."
    port = port or free_port()
    log = open(tmp_path / f'serve-{port}.log', 'a')
    p = subprocess.Popen(['blackvip', 'serve', '--port', str(port), '--dataset', 'loc_mnist_1to4', *args], cwd=tmp_path,
                         env=env_for(tmp_path, **({'BLACKVIP_API_TOKEN': token} if token else {})), stdout=log, stderr=log)
    url, headers = f'http://127.0.0.1:{port}', {'Authorization': f'Bearer {token}'} if token else {}
    deadline = time.time() + 120
    while time.time() < deadline:
        assert p.poll() is None, (tmp_path / f'serve-{port}.log').read_text()
        try:
            if httpx.get(f'{url}/v1/health', headers=headers, timeout=2).status_code == 200: return p, url
        except httpx.TransportError: pass
        time.sleep(0.2)
    p.kill()
    raise AssertionError(f'blackvip serve did not answer on {url}')


def stop(p):
    p.send_signal(signal.SIGKILL)
    p.wait()


def prompt(folder):
    return torch.load(folder / 'prompt.pt', weights_only=True)


def same_prompt(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


RUN = ['train', '--method', 'blackvip', '--steps', '6', *TINY]


@pytest.fixture(scope='module')
def in_process(tmp_path_factory):
    "The reference: the same run with the target in process."
    tmp = tmp_path_factory.mktemp('local')
    r = blackvip([*RUN, '--out', 'run'], tmp)
    assert r.returncode == 0, r.stderr
    return tmp / 'run'


@pytest.fixture(scope='module')
def healthy(tmp_path_factory):
    "One healthy `blackvip serve` for the tests that only query it."
    p, url = start_server(tmp_path_factory.mktemp('server'))
    yield url
    stop(p)


def test_scores_and_counts_match_in_process(tmp_path):
    p, url = start_server(tmp_path, '--max-batch', '4')
    try:
        remote, local = HTTPTarget(url), DigitTarget(load_digit_cnn())
        x = torch.rand(10, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        assert torch.equal(remote(x), torch.cat([local(c) for c in x.split(4)]))
        remote(x[:3])
        usage = remote.usage()
        assert (remote.calls, remote.images) == (4, 13) == (usage['calls'], usage['images'])
        assert usage['you'] == {'calls': 4, 'images': 13}
    finally: stop(p)


def test_run_over_exact_wire_equals_in_process(tmp_path, in_process, healthy):
    before = httpx.get(f'{healthy}/v1/health').json()['images']
    r = blackvip([*RUN, '--target', healthy, '--out', 'remote'], tmp_path)
    assert r.returncode == 0, r.stderr
    usage = httpx.get(f'{healthy}/v1/health').json()
    assert same_prompt(prompt(in_process), prompt(tmp_path / 'remote'))
    local, remote = (json.loads((f / 'result.json').read_text()) for f in (in_process, tmp_path / 'remote'))
    assert (remote['accuracy'], remote['queries'], remote['calls']) == (local['accuracy'], local['queries'], local['calls'])
    assert remote['settings']['target'] == healthy and remote['settings']['wire'] == 'npy'
    assert usage['images'] - before >= remote['queries'] + 10     # training, then the 10 test images at least


def test_budget_stops_a_remote_run_as_a_local_one(tmp_path, healthy):
    runs = {name: blackvip([*RUN, *target, '--budget-images', '18', '--out', name], tmp_path)
            for name, target in (('local', []), ('remote', ['--target', healthy]))}
    recs = {}
    for name, r in runs.items():
        assert r.returncode == 1 and 'stopped early (budget_exhausted)' in r.stderr, r.stderr
        recs[name] = json.loads((tmp_path / name / 'result.json').read_text())
    keys = ('status', 'steps', 'queries', 'calls', 'accuracy')
    assert [recs['remote'][k] for k in keys] == [recs['local'][k] for k in keys]
    assert recs['remote']['queries'] == paid(2)


def test_flaky_server_gives_the_same_parameters(tmp_path, in_process):
    p, url = start_server(tmp_path, '--fail-rate', '0.1', '--fail-seed', '4')
    try:
        r = blackvip([*RUN, '--target', url, '--out', 'flaky'], tmp_path)
        assert r.returncode == 0, r.stderr
        failed = httpx.get(f'{url}/v1/health').json()['failed']
    finally: stop(p)
    assert failed >= 1, 'the seeded switch failed no request: the test would prove nothing'
    assert same_prompt(prompt(in_process), prompt(tmp_path / 'flaky'))


def test_killed_server_ends_the_run_cleanly_and_a_restart_resumes_bit_identical(tmp_path, in_process):
    port = free_port()
    p, url = start_server(tmp_path, '--delay', '0.3', port=port)
    args = [*RUN, '--target', url, '--retries', '1', '--out', 'run']
    run = subprocess.Popen(['blackvip', *args], cwd=tmp_path, env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / 'run' / 'metrics.jsonl'
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.05)
    stop(p)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1 and 'stopped early (target_unreachable)' in err, out + err
    assert 'did not answer after 2 attempts' in out + err
    rec = json.loads((tmp_path / 'run' / 'result.json').read_text())
    assert rec['status'] == 'target_unreachable' and rec['accuracy'] is None and 2 <= rec['steps'] < 6
    assert (tmp_path / 'run' / 'checkpoint.pt').exists()
    p, url = start_server(tmp_path, port=port)                        # the server is back, on the same address
    try: resumed = blackvip(args, tmp_path)
    finally: stop(p)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / 'run' / 'result.json').read_text())['status'] == 'finished'
    assert same_prompt(prompt(in_process), prompt(tmp_path / 'run'))


def test_slow_server_triggers_the_timeout(tmp_path):
    p, url = start_server(tmp_path, '--delay', '3')
    try: r = blackvip([*RUN, '--target', url, '--timeout', '0.5', '--out', 'slow'], tmp_path)
    finally: stop(p)
    assert r.returncode == 1 and 'stopped early (target_timeout)' in r.stderr, r.stderr
    assert 'did not answer within 0.5 s' in r.stdout + r.stderr
    assert json.loads((tmp_path / 'slow' / 'result.json').read_text())['status'] == 'target_timeout'


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(tmp_path):
    p, url = start_server(tmp_path, '--max-batch', '4', '--max-mb', '1', token='s3cret')
    good = encode_npy(torch.rand(1, 3, 224, 224))
    auth = {'Authorization': 'Bearer s3cret'}
    bad = [('wrong shape', encode_npy(torch.rand(2, 3, 8)[None]), NPY, auth, 422, 'shape (1, 2, 3, 8)'),
           ('wrong dtype', npy(np.zeros((1, 3, 8, 8), np.float64)), NPY, auth, 422, 'dtype float64'),
           ('too many images', encode_npy(torch.rand(5, 3, 8, 8)), NPY, auth, 413, 'largest batch of 4'),
           ('too large', encode_npy(torch.rand(3, 3, 224, 224)), NPY, auth, 413, "over the server's limit"),
           ('not an image', json.dumps({'images': ['aGVsbG8=']}).encode(), JSON, auth, 422, 'image 0 is not an 8-bit RGB PNG'),
           ('missing token', good, NPY, {}, 401, 'missing bearer token'),
           ('wrong token', good, NPY, {'Authorization': 'Bearer guess'}, 403, 'not accepted')]
    try:
        with httpx.Client(base_url=url) as c:
            for name, body, ctype, headers, status, message in bad:
                r = c.post('/v1/classify', content=body, headers={'Content-Type': ctype, **headers})
                assert r.status_code == status and message in r.json()['detail'], (name, r.status_code, r.text)
                assert c.post('/v1/classify', content=good, headers={'Content-Type': NPY, **auth}).status_code == 200, name
            health = c.get('/v1/health', headers=auth).json()
        assert (health['rejected'], health['calls'], health['you']['images']) == (len(bad), len(bad), len(bad))
        r = blackvip([*RUN, '--target', url, '--out', 'no_token'], tmp_path)        # a run without the token: one clear error
        assert r.returncode == 2 and 'HTTP 401: missing bearer token' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    finally: stop(p)
    r = blackvip([*RUN, '--target', url, '--retries', '0', '--out', 'gone'], tmp_path)
    assert r.returncode == 2 and 'did not answer after 1 attempts' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path / 'gone').exists()


VP = ['train', '--method', 'vp_spsa_gc', '--steps', '3', '--a', '1', *TINY]


@pytest.mark.parametrize('wire', ['npy', 'png'])
def test_unclamped_vp_is_refused_at_once_by_a_served_target(tmp_path, healthy, wire):
    before = httpx.get(f'{healthy}/v1/health').json()
    r = blackvip([*VP, '--target', healthy, '--wire', wire, '--out', 'vp'], tmp_path)
    assert r.returncode == 2 and '--clamp-prompted' in r.stderr and 'leave [0, 1]' in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr and not (tmp_path / 'vp').exists()
    after = httpx.get(f'{healthy}/v1/health').json()
    assert (after['images'], after['rejected']) == (before['images'], before['rejected'])   # not one image was sent


@pytest.mark.parametrize('wire', ['npy', 'png'])
def test_clamped_vp_trains_over_http_and_the_record_says_so(tmp_path, healthy, wire):
    r = blackvip([*VP, '--target', healthy, '--wire', wire, '--clamp-prompted', '--out', 'vp'], tmp_path)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / 'vp' / 'result.json').read_text())
    assert rec['status'] == 'finished' and rec['settings']['clamp_prompted'] is True and rec['settings']['wire'] == wire
    # the padding prompt's randn strips leave [0, 1] on about 10% of the pixel values sent, in training and in evaluation
    assert 0.02 < rec['clamped']['train_fraction'] < 0.5 and 0.02 < rec['clamped']['eval_fraction'] < 0.5, rec['clamped']
    if wire == 'npy':                                  # the exact wire: the same run as clamping in process
        local = blackvip([*VP, '--clamp-prompted', '--out', 'local'], tmp_path)
        assert local.returncode == 0, local.stderr
        assert same_prompt(prompt(tmp_path / 'local'), prompt(tmp_path / 'vp'))
        loc = json.loads((tmp_path / 'local' / 'result.json').read_text())
        assert (loc['accuracy'], loc['clamped']) == (rec['accuracy'], rec['clamped'])
