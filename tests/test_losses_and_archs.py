"""Pixel losses against hand-computed values; MSRResNet layout, size and shapes."""
import pytest
import torch

from basicsr.archs import build_network
from basicsr.losses import build_loss


def test_pixel_losses_by_hand():
    pred = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    target = torch.tensor([[[[1.0, 1.0], [0.0, 1.0]]]])  # differences -1, 0, 2, 3
    assert build_loss({'type': 'L1Loss'})(pred, target).item() == pytest.approx(6 / 4)
    assert build_loss({'type': 'MSELoss', 'loss_weight': 2.0})(pred, target).item() == pytest.approx(2 * 14 / 4)
    assert build_loss({'type': 'L1Loss', 'reduction': 'sum'})(pred, target).item() == pytest.approx(6)
    charbonnier = build_loss({'type': 'CharbonnierLoss', 'eps': 1e-2})(pred, target).item()
    assert charbonnier == pytest.approx(sum((d * d + 1e-2)**0.5 for d in (1, 0, 2, 3)) / 4)
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert build_loss({'type': 'L1Loss'})(pred, target, weight).item() == pytest.approx((1 + 3) / 2)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize('scale, expected', [(4, 1_517_571), (2, 1_369_859), (3, 1_554_499)])
def test_msrresnet_parameter_counts(scale, expected):
    assert count(build_network({'type': 'MSRResNet', 'upscale': scale})) == expected


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_msrresnet_shapes_on_odd_sizes(scale):
    net = build_network({'type': 'MSRResNet', 'num_feat': 8, 'num_block': 2, 'upscale': scale})
    assert net(torch.rand(2, 3, 7, 11)).shape == (2, 3, 7 * scale, 11 * scale)


def test_msrresnet_keys_match_basicsr_layout():
    keys = set(build_network({'type': 'MSRResNet', 'num_block': 2}).state_dict())
    expected = {'conv_first', 'body.0.conv1', 'body.0.conv2', 'body.1.conv1', 'body.1.conv2', 'upconv1', 'upconv2',
                'conv_hr', 'conv_last'}
    assert keys == {f'{name}.{p}' for name in expected for p in ('weight', 'bias')}
