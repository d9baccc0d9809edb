"""Refactoring changes no number: short runs of every kind of method, and the README main job's seed-1 run, reproduce
bit for bit the fingerprints recorded in `tests/reference/` (sha256 of every saved tensor and of the loss curve, the
accuracy, the queries). Float sums may differ in the last bits on another CPU or with another number of threads, and
SPSA amplifies them, so the runs here take the recording's two threads (whatever the test worker was given), each
reference names the CPU it was recorded on, and on another CPU a failure says so: record them again there
(`python tests/test_reproduce.py`, `--long` for the main job's run)."""
import hashlib
import json
import platform
import sys
from pathlib import Path

import pytest
import torch

from blackvip.cli import main

REFERENCE = Path(__file__).parent / 'reference'
SHORT = json.loads((REFERENCE / 'short_runs.json').read_text())
MAIN = json.loads((REFERENCE / 'main_job_seed1.json').read_text())
THREADS = 2   # torch's intra-op threads when the fingerprints were recorded: a sum split another way rounds differently


def machine():
    "The CPU the runs compute on: its model name and the vector instructions torch dispatches to."
    cpuinfo = Path('/proc/cpuinfo')
    names = [l.split(':', 1)[1].strip() for l in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if l.startswith('model name')]
    name = names[0] if names else platform.processor() or platform.machine()
    return f"{name}, {torch.backends.cpu.get_cpu_capability()}"


def where(ref):
    "How a fingerprint that differs should be read: on the recording's CPU a changed number, elsewhere perhaps not."
    if ref.get('machine') == machine(): return 'a number changed on the CPU the reference was recorded on'
    return (f"recorded on {ref.get('machine', 'another CPU')}, run on {machine()}: record the references again here "
            "(python tests/test_reproduce.py) before reading a difference as a changed number")


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
    assert got == {k: v for k, v in ref.items() if k != 'args'}, f"{name}: {where(SHORT)}"


@pytest.mark.long
def test_main_job_seed1_reproduces_its_reference(tmp_path):
    got = train(MAIN['args'], tmp_path / 'seed1')
    assert got == {k: v for k, v in MAIN.items() if k not in ('args', 'machine')}, where(MAIN)


if __name__ == '__main__':   # record the fingerprints again (on a new kind of machine)
    import tempfile
    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        for name, ref in SHORT['runs'].items(): ref.update(train([*SHORT['common'], *ref['args']], Path(tmp) / name))
        SHORT['machine'] = machine()
        (REFERENCE / 'short_runs.json').write_text(json.dumps(SHORT, indent=1) + '\n')
        if '--long' in sys.argv:
            MAIN.update(train(MAIN['args'], Path(tmp) / 'main'), machine=machine())
            (REFERENCE / 'main_job_seed1.json').write_text(json.dumps(MAIN, indent=1) + '\n')
