"""Refactoring changes no number: short runs of every kind of method, and the README main job's seed-1 run, reproduce
bit for bit the fingerprints recorded in `tests/reference/` (sha256 of every saved tensor and of the loss curve, the
accuracy, the queries). The fingerprints were recorded on a 2-core x86-64 CPU machine; float sums may differ in the
last bits on another CPU or with another number of threads, and SPSA amplifies them, so the runs here take the
recording's two threads (whatever the test worker was given), and on another CPU record them again
(`python tests/test_reproduce.py`)."""
import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from blackvip.cli import main

REFERENCE = Path(__file__).parent / 'reference'
SHORT = json.loads((REFERENCE / 'short_runs.json').read_text())
MAIN = json.loads((REFERENCE / 'main_job_seed1.json').read_text())
THREADS = 2   # torch's intra-op threads when the fingerprints were recorded: a sum split another way rounds differently


@pytest.fixture(autouse=True)
def recording_threads():
    "Run with the recording's number of threads, then give the worker back its own."
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def fingerprint(folder):
    "sha256 (16 hex digits) of every tensor the run saved and of its losses, with its accuracy and queries."
    folder = Path(folder)
    record = json.loads((folder / 'result.json').read_text())
    state = torch.load(folder / 'prompt.pt', weights_only=True)
    def digests(s, prefix=''):
        for k, v in sorted(s.items()):
            if isinstance(v, dict): yield from digests(v, prefix + k + '.')
            elif torch.is_tensor(v): yield prefix + k, hashlib.sha256(v.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
    losses = [json.loads(line)['loss'] for line in (folder / 'metrics.jsonl').read_text().splitlines() if '"loss"' in line]
    return {'accuracy': record['accuracy'], 'queries': record['queries'], 'prompt': dict(digests(state)),
            'losses': hashlib.sha256(json.dumps(losses).encode()).hexdigest()[:16]}


def train(args, out):
    main(['train', *args, '--out', str(out)])
    return fingerprint(out)


@pytest.mark.parametrize('name', list(SHORT['runs']))
def test_short_run_reproduces_its_reference(name, tmp_path):
    ref = SHORT['runs'][name]
    got = train([*SHORT['common'], *ref['args']], tmp_path / name)
    assert got == {k: v for k, v in ref.items() if k != 'args'}, name


@pytest.mark.long
def test_main_job_seed1_reproduces_its_reference(tmp_path):
    assert train(MAIN['args'], tmp_path / 'seed1') == {k: v for k, v in MAIN.items() if k != 'args'}


if __name__ == '__main__':   # record the fingerprints again (on a new kind of machine)
    import tempfile
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        for name, ref in SHORT['runs'].items(): ref.update(train([*SHORT['common'], *ref['args']], Path(tmp) / name))
        (REFERENCE / 'short_runs.json').write_text(json.dumps(SHORT, indent=1) + '\n')
        if '--long' in sys.argv:
            MAIN.update(train(MAIN['args'], Path(tmp) / 'main'))
            (REFERENCE / 'main_job_seed1.json').write_text(json.dumps(MAIN, indent=1) + '\n')
