"""Weights in and out: checkpoint layouts (wrappers, DataParallel prefix, safetensors) and scripts/export.py."""
import json
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from basicsr.archs import build_network
from basicsr.utils.checkpoint import load_state_dict, save_checkpoint
from basicsr.utils.errors import BasicSRError, CheckpointError, OptionError

from conftest import write_yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
import export  # noqa: E402
from _network import load_generator, load_weights  # noqa: E402

NETWORK = {'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1, 'upscale': 4}


def trained_like_network(seed: int) -> torch.nn.Module:
    """A tiny MSRResNet with non-trivial random weights (biases included)."""
    torch.manual_seed(seed)
    net = build_network(NETWORK).eval()
    with torch.no_grad():
        for param in net.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return net


def same_outputs(net_a: torch.nn.Module, net_b: torch.nn.Module, atol: float = 0.0) -> bool:
    lq = torch.rand(2, 3, 11, 13, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        return torch.allclose(net_a(lq), net_b(lq), rtol=0, atol=atol)


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, torch.nn.Module, torch.nn.Module]:
    """A file as training saves it (``{'params': ..., 'params_ema': ...}``) with its two networks."""
    net, ema = trained_like_network(0), trained_like_network(1)
    path = tmp_path / 'net_g_6.pth'
    save_checkpoint({'params': net.state_dict(), 'params_ema': ema.state_dict()}, path)
    return path, net, ema


@pytest.mark.parametrize('layout', ['bare', 'params', 'params_ema', 'module_prefix', 'params_module_prefix'])
def test_every_checkpoint_layout_loads_strictly(tmp_path, layout):
    net = trained_like_network(0)
    state = net.state_dict()
    prefixed = OrderedDict((f'module.{k}', v) for k, v in state.items())
    content = {'bare': state, 'params': {'params': state}, 'params_ema': {'params_ema': state},
               'module_prefix': prefixed, 'params_module_prefix': {'params': prefixed}}[layout]
    save_checkpoint(content, tmp_path / 'w.pth')
    fresh = build_network(NETWORK).eval()
    assert not same_outputs(net, fresh)
    load_weights(fresh, tmp_path / 'w.pth', 'params')
    assert same_outputs(net, fresh)


def test_param_key_picks_the_ema_weights(checkpoint):
    path, net, ema = checkpoint
    fresh = build_network(NETWORK).eval()
    load_weights(fresh, path, 'params_ema')
    assert same_outputs(ema, fresh) and not same_outputs(net, fresh)


def test_weights_of_another_network_are_refused_naming_the_file(checkpoint):
    path, _, _ = checkpoint
    other = build_network({**NETWORK, 'num_feat': 16})
    with pytest.raises(CheckpointError, match='net_g_6.pth.*does not fit MSRResNet'):
        load_weights(other, path)


def test_load_generator_uses_the_option_file_paths(tmp_path, checkpoint):
    path, _, ema = checkpoint
    opt = write_yaml(tmp_path / 'net.yml', {'scale': 4, 'network_g': NETWORK,
                                            'path': {'pretrain_network_g': str(path), 'param_key_g': 'params_ema'}})
    generator = load_generator(opt)
    assert generator.scale == 4 and generator.weights == path and not generator.net.training
    assert same_outputs(ema, generator.net)
    with pytest.raises(OptionError, match='pass --weights or set path.pretrain_network_g'):
        load_generator(write_yaml(tmp_path / 'bare.yml', {'network_g': NETWORK}))


def test_safetensors_export_round_trips(tmp_path, checkpoint):
    safetensors = pytest.importorskip('safetensors')
    path, _, ema = checkpoint
    opt = write_yaml(tmp_path / 'net.yml', {'network_g': NETWORK})
    assert export.main(['-opt', str(opt), '--weights', str(path), '--param-key', 'params_ema', '--format',
                        'safetensors', '--output', str(tmp_path / 'out')]) == 0
    exported = tmp_path / 'out' / 'net_g_6.safetensors'
    fresh = build_network(NETWORK).eval()
    load_weights(fresh, exported)
    assert same_outputs(ema, fresh, atol=1e-5)
    assert set(load_state_dict(exported)) == set(ema.state_dict())
    with safetensors.safe_open(str(exported), 'pt') as file:
        assert json.loads(file.metadata()['network_g']) == NETWORK


@pytest.mark.parametrize('exporter', ['dynamo', 'torchscript'])
def test_onnx_export_has_dynamic_axes_and_matches_pytorch(tmp_path, checkpoint, capsys, exporter):
    for package in ('onnx', 'onnxscript') if exporter == 'dynamo' else ('onnx', ):
        pytest.importorskip(package)
    onnxruntime = pytest.importorskip('onnxruntime')
    path, _, ema = checkpoint
    opt = write_yaml(tmp_path / 'net.yml', {'network_g': NETWORK})
    assert export.main(['-opt', str(opt), '--weights', str(path), '--param-key', 'params_ema', '--format', 'onnx',
                        '--output', str(tmp_path / 'out'), '--name', 'tiny', '--sample-size', '16',
                        '--onnx-exporter', exporter]) == 0
    assert 'max |ONNX - PyTorch|' in capsys.readouterr().out
    onnx_path = tmp_path / 'out' / 'tiny.onnx'
    session = onnxruntime.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    assert session.get_inputs()[0].shape == ['batch', 3, 'height', 'width']
    for shape in [(2, 3, 16, 16), (1, 3, 13, 21)]:  # the traced size, and another batch and odd size
        lq = torch.rand(*shape)
        sr = session.run(['sr'], {'lq': lq.numpy()})[0]
        with torch.inference_mode():
            expected = ema(lq)
        assert sr.shape == tuple(expected.shape)
        assert torch.allclose(torch.from_numpy(sr), expected, rtol=0, atol=1e-5)
    # the check fails when the ONNX model does not compute what the network does
    with pytest.raises(BasicSRError, match='ONNX output differs from PyTorch'):
        export.check_onnx(trained_like_network(5), onnx_path, 16, atol=1e-4)
