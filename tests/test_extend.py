"""A new optimiser, prompter or target is one registered function or class in the user's own code: the command line,
the checks and `blackvip list` see it with no edit to the package."""
import json
import subprocess
import sys
import textwrap

TOY = textwrap.dedent('''
    import torch
    from blackvip.registry import HParam
    from blackvip.optimisers import OPTIMISERS, ZOOptimizer
    from blackvip.estimates import SPSA
    from blackvip.config import TARGETS, target_options
    from blackvip.targets import DigitTarget
    from blackvip.prompting import PROMPTERS, Prompter

    class SignStep:
        "SPSA's estimate, a step of fixed size along its sign."
        def __init__(self, estimate, size): self.estimate, self.size, self.k = estimate, size, 0
        @property
        def queries_per_step(self): return self.estimate.queries_per_step
        def step(self, loss_fn, w, generator=None):
            self.k += 1
            g, loss = self.estimate.estimate(loss_fn, w, self.k, generator)
            return w - self.size * g.sign(), loss
        def state_dict(self): return {'k': torch.tensor(self.k)}
        def load_state_dict(self, state): self.k = int(state['k'])

    @OPTIMISERS.register('sign-spsa', 'a fixed-size step along the sign of the SPSA estimate',
                         dict(sign_size=HParam(0.001, 'size of each signed step', low=0)))
    def sign_spsa(cfg): return SignStep(SPSA(cfg.c, cfg.gamma, cfg.sp_avg), cfg.sign_size)

    @TARGETS.register('half-digits', 'the embedded classifier, shown images at half brightness')
    def half_digits(cfg, classnames, template):
        target = DigitTarget(classnames=classnames, **target_options(cfg))
        forward = target.forward
        target.forward = lambda x: forward(0.5 * x)
        return target

    @PROMPTERS.register('channel-shift', 'one learned offset per colour channel')
    class ChannelShift(Prompter):
        def __init__(self):
            super().__init__()
            self.shift = torch.nn.Parameter(torch.zeros(3))
        def prompted(self, ctx, W, train=True):
            return (ctx['x'][None] + self.unit * W.view(len(W), 1, 3, 1, 1)).clamp(0, 1)

    from blackvip.cli import main
    main()
''')


def blackvip(args, cwd):
    return subprocess.run([sys.executable, '-c', TOY, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_registered_optimiser_and_target_train_from_the_command_line(tmp_path):
    r = blackvip(['train', '--method', 'blackvip', '--dataset', 'loc_mnist_1to1', '--steps', '5', '--batch-size', '2',
                  '--test-shots', '2', '--estimator', 'sign-spsa', '--sign-size', '0.002', '--target', 'half-digits',
                  '--out', 'toy'], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    record = json.loads((tmp_path / 'toy' / 'result.json').read_text())
    hparams = record['settings']['hparams']
    assert hparams['estimator'] == 'sign-spsa' and hparams['sign_size'] == 0.002
    assert record['settings']['target'] == 'half-digits' and record['queries'] == 5 * 2 * 10


def test_a_registered_prompter_trains_from_the_command_line(tmp_path):
    r = blackvip(['train', '--method', 'vp_spsa_gc', '--prompter', 'channel-shift', '--dataset', 'loc_mnist_1to1',
                  '--steps', '3', '--batch-size', '2', '--test-shots', '2', '--out', 'toy'], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    record = json.loads((tmp_path / 'toy' / 'result.json').read_text())
    assert record['settings']['prompter'] == 'channel-shift' and record['queries'] == 3 * 2 * 10
    import torch
    shift = torch.load(tmp_path / 'toy' / 'prompt.pt', weights_only=True)['shift']
    assert shift.shape == (3,) and shift.abs().sum() > 0        # the toy's three numbers were trained


def test_a_registered_part_is_listed_and_checked(tmp_path):
    listed = blackvip(['list'], tmp_path)
    for name in ('sign-spsa', 'sign_size', 'half-digits', 'channel-shift'): assert name in listed.stdout, name
    unknown = blackvip(['train', '--prompter', 'no-such', '--out', 'bad'], tmp_path)
    assert unknown.returncode == 2 and "Unknown prompter 'no-such'" in unknown.stderr and '--prompter' in unknown.stderr
    bad = blackvip(['train', '--estimator', 'sign-spsa', '--sign-size', '-1', '--out', 'bad'], tmp_path)
    assert bad.returncode == 2 and '--sign-size' in bad.stderr and not (tmp_path / 'bad').exists()
