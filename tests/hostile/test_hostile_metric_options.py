"""Hostile input (issue 26): a metric's crop_border that cannot fit is refused before training, in one line."""
import pytest

from basicsr.train import train_pipeline
from basicsr.utils.errors import OptionError
from conftest import tiny_train_options, write_yaml


def _train(tmp_path, crop_border: int) -> None:
    opt = tiny_train_options(tmp_path)
    opt['val']['metrics']['psnr']['crop_border'] = crop_border
    path = write_yaml(tmp_path / 'opt.yml', opt)
    train_pipeline(root_path=str(tmp_path), argv=['-opt', str(path)])


@pytest.mark.parametrize('crop_border, expected', [
    (-3, r'val\.metrics\.psnr\.crop_border: must be >= 0'),
    (10000, r'val\.metrics\.psnr\.crop_border: 10000 pixels from each edge leave nothing of the smallest image of '
            r'datasets\.val \(32x40\)'),
    (16, r'val\.metrics\.psnr\.crop_border: 16 pixels .* \(32x40\)'),  # exactly half the height: nothing left
])
def test_a_crop_border_that_cannot_fit_fails_before_training(tmp_path, crop_border, expected):
    with pytest.raises(OptionError, match=expected):
        _train(tmp_path, crop_border)
    assert not (tmp_path / 'experiments').exists()  # nothing trained, no folder made
