"The main job's setting learns: a short run of it lifts test accuracy well above zero-shot."
from blackvip.config import RunConfig
from blackvip.train import run

MAIN = dict(method='blackvip', dataset='loc_mnist_1to1', batch_size=4, o=100.0, a=0.005, seed=1, test_shots=30)
STEPS, MARGIN = 800, 8.0
# Measured on these 300 test images (seed 1): zero-shot 23.3%; the main setting 35.7% after 800 steps (40.3% after 1,200);
# the paper's gains (a = 0.01, o = 1) 18.0% after the same 800 steps of 4. The previous README default (a = 0.005, o = 1,
# steps of 8) reached 37.0% after 400 steps of 8 on this seed: it is unstable across seeds rather than always broken, so
# this test guards against learning breaking, not against that setting.


def test_main_setting_learns_in_a_short_run(tmp_path):
    "800 steps of the README's main command (300 test images): accuracy rises at least 8 points over zero-shot."
    zeroshot = run(RunConfig(**{**MAIN, 'method': 'zeroshot'}), tmp_path / 'zeroshot', progress=False)['accuracy']
    blackvip = run(RunConfig(**MAIN, steps=STEPS), tmp_path / 'blackvip', progress=False)['accuracy']
    assert 100 * (blackvip - zeroshot) >= MARGIN, (zeroshot, blackvip)
