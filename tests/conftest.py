("Long runs are marked `long` and skipped unless pytest is given `--long`. Run in parallel (`pytest -n 2`), each worker "
 "and the processes it starts use one thread, so that two workers share two cores without oversubscribing them.")
import os

import pytest

if os.environ.get('PYTEST_XDIST_WORKER'):
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[var] = '1'
    import torch
    torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption('--long', action='store_true', help='also run the tests marked long (minutes each)')


def pytest_configure(config):
    config.addinivalue_line('markers', 'long: a run of minutes, skipped unless --long is given')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--long'): return
    skip = pytest.mark.skip(reason='a long run; pass --long to run it')
    for item in items:
        if 'long' in item.keywords: item.add_marker(skip)
