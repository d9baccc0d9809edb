"End-to-end: the `blackvip gallery` console script, offline and with a missing MNIST."
import subprocess, os


def run(args, tmp_path):
    env = dict(os.environ, BLACKVIP_DATA=str(tmp_path / 'data'), MPLBACKEND='Agg')
    return subprocess.run(['blackvip', *args], capture_output=True, text=True, env=env, cwd=tmp_path)


def test_gallery_offline_writes_png(tmp_path):
    r = run(['gallery', '--out', 'g.png', '--n', '3'], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'g.png').stat().st_size > 1000
    assert 'Loc-MNIST 1:4: 1000 test images' in r.stdout


def test_gallery_missing_mnist_says_what_to_do(tmp_path):
    r = run(['gallery', '--source', 'torchvision', '--out', 'g.png'], tmp_path)
    assert r.returncode == 2
    assert '--source embedded' in r.stderr and '--download' in r.stderr and 'Traceback' not in r.stderr
    assert '--download' in run(['gallery', '--help'], tmp_path).stdout      # the flag the error names exists
    assert not (tmp_path / 'g.png').exists()
