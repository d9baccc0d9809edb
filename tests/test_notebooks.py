"The notebooks as files: what nbformat would silently repair must fail here instead."
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))


def duplicate_ids(path):
    "Cell ids that occur more than once in the notebook at `path`, read as raw JSON (nbformat renames duplicates on reading)."
    ids = Counter(c.get('id') for c in json.loads(Path(path).read_text())['cells'])
    return sorted(str(i) for i, n in ids.items() if n > 1 or not i)


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_cell_ids_are_unique(path):
    assert not duplicate_ids(path), f'{path.name}: cell ids {duplicate_ids(path)} occur twice (or are empty); give each cell its own id'


def test_a_duplicate_id_is_found(tmp_path):
    nb = json.loads(NOTEBOOKS[0].read_text())
    nb['cells'].append(dict(nb['cells'][0]))
    (tmp_path / 'dup.ipynb').write_text(json.dumps(nb))
    assert duplicate_ids(tmp_path / 'dup.ipynb') == [nb['cells'][0]['id']]
