"Every option of every `blackvip` command explains itself, and `train --help` shows an example for the embedded target and for CLIP."
import argparse, subprocess

from blackvip.cli import parser


def test_every_option_has_help():
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [(name, act.option_strings) for name, sp in sub.choices.items() for act in sp._actions
               if not act.help or act.help.startswith(' (default')]
    assert not missing, missing


def test_train_help_lists_choices_and_examples():
    out = subprocess.run(['blackvip', 'train', '--help'], capture_output=True, text=True).stdout
    for text in ('loc_mnist_1to1', 'eurosat', 'mae-vit-b16', 'pixels', 'random_search', '--target ViT-B-16 --pretrained openai',
                 '--pretrained /models/', '--compare-zeroshot --out runs/embedded'):
        assert text in out, text
