"The benches' own helpers: a row's budget, when a record counts as already run, and estimates restricted to a block."
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / 'bench'))
import query_efficiency as qe   # noqa: E402
from decoder_blocks import BLOCK, InBlock, block_indices   # noqa: E402
from blackvip.estimates import ExactGradient   # noqa: E402


def test_row_budget_per_set(monkeypatch):
    monkeypatch.setitem(qe.ESTIMATORS, 'per-set', {'budget': {'loc_mnist_1to1': 8_000}})
    monkeypatch.setitem(qe.ESTIMATORS, 'everywhere', {'budget': 4_000})
    assert qe.row_budget('per-set', 'loc_mnist_1to1') == 8_000
    assert qe.row_budget('per-set', 'loc_mnist_1to4') is None       # the run's own budget there
    assert qe.row_budget('everywhere', 'loc_mnist_1to4') == 4_000
    assert qe.row_budget('spsa-gc', 'loc_mnist_1to4') is None
    assert qe.steps_for('spsa-gc', 40_000) == 1_000                  # 10 prompted copies of a batch of 4 per step


def test_recorded_only_the_same_run(tmp_path):
    cfg = qe.row_config('spsa-gc', 'loc_mnist_1to4', seed=1, steps=10, eval_every=5, ckpt_every=5)
    record = {'status': 'finished', 'settings': json.loads(json.dumps(asdict(cfg.resolve())))}
    (tmp_path / 'result.json').write_text(json.dumps(record))
    assert qe.recorded(tmp_path, cfg)
    assert not qe.recorded(tmp_path, qe.row_config('spsa-gc', 'loc_mnist_1to4', seed=1, steps=20, eval_every=5,
                                                   ckpt_every=5))
    assert not qe.recorded(tmp_path, qe.row_config('spsa-gc', 'loc_mnist_1to4', seed=2, steps=10, eval_every=5,
                                                   ckpt_every=5))
    (tmp_path / 'result.json').write_text(json.dumps({**record, 'status': 'failed'}))
    assert not qe.recorded(tmp_path, cfg)


def test_block_indices_are_the_named_tensors():
    from blackvip.coordinator import Decoder
    decoder = Decoder()
    idx = block_indices(decoder)
    sizes = dict((name, p.numel()) for name, p in decoder.named_parameters())
    assert len(idx) == sum(sizes[name] for name in BLOCK)
    w = torch.nn.utils.parameters_to_vector(decoder.parameters())
    assert torch.equal(w[idx][:sizes['p_trigger']], decoder.p_trigger.detach().flatten())   # p_trigger comes first


def test_in_block_estimate_moves_only_the_block():
    w, idx = torch.arange(1., 7.), torch.tensor([1, 4])
    seen = []
    def loss_fn(W):
        seen.append(W.clone())
        return (W ** 2).sum(1)
    loss_fn.gradient = lambda: (2 * w, (w ** 2).sum().item())
    g, _ = InBlock(ExactGradient(), idx).estimate(loss_fn, w, 1)
    assert torch.allclose(g, torch.tensor([0, 4, 0, 0, 10, 0.]) / 116 ** 0.5)   # the block's gradient, unit length
    from blackvip.estimates import SPSA
    g, _ = InBlock(SPSA(0.1, 0.1, 2), idx).estimate(loss_fn, w, 1, torch.Generator().manual_seed(0))
    assert g[[0, 2, 3, 5]].eq(0).all() and g[idx].ne(0).all()
    outside = torch.ones(6, dtype=torch.bool).index_fill_(0, idx, False)
    assert all(torch.equal(W[:, outside], w[outside].expand(len(W), -1)) for W in seen)   # queried only in the block


def test_projected_gradient_is_the_gradient_in_the_drawn_directions():
    from blackvip.config import make_prompter
    from projected_gradient import Projected
    from prompt_space import pulled_back_directions
    prompter = make_prompter(qe.row_config('spsa-gc', 'loc_mnist_1to4', seed=1).resolve())
    est = Projected(1.0, 9)
    est.prompter, est.x = prompter, torch.rand(2, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    w, g = prompter.params(), torch.randn(prompter.num_params(), generator=torch.Generator().manual_seed(1))
    loss_fn = lambda W: None
    loss_fn.gradient = lambda: (g, 0.0)
    v, _ = est.estimate(loss_fn, w, 1, torch.Generator().manual_seed(2))
    U = pulled_back_directions(prompter, est.x, 9, 7, torch.Generator().manual_seed(2))
    assert abs(v.norm().item() - 1) < 1e-5 and v @ g > 0
    assert torch.allclose(v, (U @ g) @ U / ((U @ g) @ U).norm(), atol=1e-5)   # g's part in the drawn directions
    assert (v - (U @ v) @ U).norm() < 1e-4
