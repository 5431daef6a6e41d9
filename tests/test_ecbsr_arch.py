"""ECBSR: BasicSR's unit test of basicsr.archs.ecbsr_arch (run on the CPU), plus its key layout and the
equality of the training-mode branches and the re-parameterised eval-mode network."""
import pytest
import torch

from basicsr.archs.ecbsr_arch import ECB, ECBSR, SeqConv3x3


def test_ecbsr_shapes():
    net = ECBSR(num_in_ch=1, num_out_ch=1, num_block=1, num_channel=4, with_idt=False, act_type='prelu', scale=4)
    assert net(torch.rand(1, 1, 12, 12)).shape == (1, 1, 48, 48)
    net = ECBSR(num_in_ch=3, num_out_ch=3, num_block=1, num_channel=4, with_idt=True, act_type='rrelu', scale=2)
    assert net(torch.rand(1, 3, 12, 12)).shape == (1, 3, 24, 24)


@pytest.mark.parametrize('seq_type, channels, multiplier',
                         [('conv1x1-conv3x3', 2, 2), ('conv1x1-laplacian', 4, 3), ('conv1x1-sobelx', 3, 1),
                          ('conv1x1-sobely', 3, 1)])
def test_seqconv3x3_rep_params(seq_type, channels, multiplier):
    torch.manual_seed(0)
    net = SeqConv3x3(seq_type=seq_type, in_channels=channels, out_channels=channels, depth_multiplier=multiplier)
    with torch.no_grad():  # edge scales start at 1e-3; make them large enough for the comparison to mean something
        for name, param in net.named_parameters():
            if name in ('scale', 'bias'):
                param.normal_()
    img = torch.rand(1, channels, 12, 12)
    output = net(img)
    conv = torch.nn.Conv2d(channels, channels, 3, 1, 1)
    conv.weight.data, conv.bias.data = net.rep_params()
    assert output.shape == (1, channels, 12, 12)
    assert torch.allclose(output, conv(img), rtol=1e-5, atol=1e-5)


def test_seqconv3x3_unknown_type():
    with pytest.raises(ValueError):
        SeqConv3x3(seq_type='noseq', in_channels=1, out_channels=1)


@pytest.mark.parametrize('act_type, with_idt', [('softplus', False), ('linear', True), ('prelu', True)])
def test_ecb_eval_equals_training_branches(act_type, with_idt):
    torch.manual_seed(0)
    net = ECB(in_channels=2, out_channels=2, depth_multiplier=1, act_type=act_type, with_idt=with_idt)
    img = torch.rand(1, 2, 12, 12)
    output = net(img)
    output_rep = net.eval()(img)
    assert output.shape == (1, 2, 12, 12)
    assert torch.allclose(output, output_rep, rtol=1e-5, atol=1e-5)
    assert net.with_idt is with_idt


def test_ecb_unknown_activation():
    with pytest.raises(ValueError):
        ECB(in_channels=2, out_channels=2, depth_multiplier=1, act_type='unknown', with_idt=False)


def test_ecbsr_reparameterised_network_and_basicsr_keys():
    torch.manual_seed(0)
    net = ECBSR(num_in_ch=3, num_out_ch=3, num_block=2, num_channel=8, with_idt=True, act_type='prelu', scale=3)
    img = torch.rand(1, 3, 10, 13)
    assert torch.allclose(net.train()(img), net.eval()(img), atol=1e-5)
    keys = set(net.state_dict())
    assert {'backbone.0.conv3x3.weight', 'backbone.0.conv1x1_3x3.k0', 'backbone.0.conv1x1_3x3.b1',
            'backbone.1.conv1x1_sbx.scale', 'backbone.1.conv1x1_sby.mask', 'backbone.2.conv1x1_lpl.bias',
            'backbone.1.act.weight'} <= keys
    assert not any(key.startswith('backbone.3.act') for key in keys)  # the last ECB is linear
    assert net.state_dict()['backbone.0.conv1x1_lpl.mask'][0, 0].tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
