"""Real-ESRGAN's recipes: RealESRNetModel and RealESRGANModel train on pairs degraded on the model's device.

``realesrgan_options/`` holds copies of Real-ESRGAN's published option files (``train_realesrnet_x4plus.yml``,
``train_realesrgan_x4plus.yml``, ``finetune_realesrgan_x4plus_pairdata.yml``), written from their documented keys and
values. They run unchanged from a folder where tiny synthetic datasets, meta-info lists and pretrained weights sit at
their relative paths; as in test_basicsr_compat.py, ``--force_yml`` overrides only shorten the runs (1-2 iterations,
batch 2, no workers, one RRDB, 32-pixel GT patches cut from 136-pixel squares).
"""
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from basicsr.archs import build_network
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.models import build_model
from basicsr.models.online_degradation import SYNTHESIS_KEYS, TrainingPairPool, synthesis_seed
from basicsr.utils.checkpoint import load_checkpoint, save_checkpoint
from basicsr.utils.errors import OptionError
from basicsr.utils.img_util import imwrite
from basicsr.utils.options import parse_options

from conftest import ROOT, SHORT, make_pairs, synthetic_image, train, write_yaml
from test_basicsr_compat import vgg19_weights  # noqa: F401  (fixture: VGG19 weights where torchvision looks)

OPTIONS = Path(__file__).resolve().parent / 'realesrgan_options'
REALESRNET_X4PLUS = OPTIONS / 'train_realesrnet_x4plus.yml'
REALESRGAN_X4PLUS = OPTIONS / 'train_realesrgan_x4plus.yml'
FINETUNE_PAIRDATA = OPTIONS / 'finetune_realesrgan_x4plus_pairdata.yml'
# With SHORT (conftest), the only departures from the published files: one RRDB (23 take many seconds per
# iteration on a CPU), 32-pixel GT patches (256 would make the perceptual loss slow) from 136-pixel squares.
SMALL = ['network_g:num_block=1', 'gt_size=32', 'datasets:train:gt_size=32', 'datasets:train:crop_pad_size=136']
PRETRAINED = Path('experiments') / 'pretrained_models'


@pytest.fixture(scope='module')
def realesrgan_datasets(published_datasets) -> Path:
    """conftest's datasets plus the meta-info lists the Real-ESRGAN files name (paths relative to datasets/DF2K)."""
    df2k = published_datasets / 'datasets' / 'DF2K'
    names = sorted(p.name for p in (df2k / 'DIV2K_train_HR_sub').iterdir())
    (df2k / 'meta_info').mkdir(exist_ok=True)
    (df2k / 'meta_info' / 'meta_info_DF2Kmultiscale+OST_sub.txt').write_text(
        ''.join(f'DIV2K_train_HR_sub/{n}\n' for n in names))
    (df2k / 'meta_info' / 'meta_info_DIV2K_sub_pair.txt').write_text(
        ''.join(f'DIV2K_train_HR_sub/{n}, DIV2K_train_LR_bicubic_X4_sub/{n}\n' for n in names))
    return published_datasets


@pytest.fixture
def run_root(root, realesrgan_datasets) -> Path:
    return root


def save_random_network(opt: dict, path: Path, param_key: str) -> None:
    torch.manual_seed(0)
    save_checkpoint({param_key: build_network(opt).state_dict()}, path)


SMALL_RRDBNET = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 64, 'num_block': 1,
                 'num_grow_ch': 32}


def test_the_published_realesrnet_and_realesrgan_files_train_in_sequence(run_root, vgg19_weights):  # noqa: F811
    # stage 1 starts from ESRGAN's weights (random here), as the published file names them
    esrgan = run_root / PRETRAINED / 'ESRGAN_SRx4_DF2KOST_official-ff704c30.pth'
    save_random_network(SMALL_RRDBNET, esrgan, 'params_ema')
    exp, log = train(run_root, REALESRNET_X4PLUS, 'train:total_iter=2', *SHORT, *SMALL)
    assert f'Loaded RRDBNet from {esrgan} [params_ema]' in log
    assert 'Training pairs made on cpu: realesrgan degradation, GT patches 32, pool of 180.' in log
    assert 'iter:       2' in log and 'l_pix:' in log
    state = load_checkpoint(exp / 'training_states' / '2.state')
    assert [s['device'] for s in state['synthesis']] == ['cpu'] and 'pool' not in state['synthesis'][0]

    # stage 2 starts from stage 1's generator, under the name the published file gives it
    shutil.copy(exp / 'models' / 'net_g_2.pth', run_root / PRETRAINED / 'RealESRNet_x4plus.pth')
    gan_exp, log = train(run_root, REALESRGAN_X4PLUS, 'train:total_iter=1', *SHORT, *SMALL)
    assert 'Loaded RRDBNet from' in log and 'RealESRNet_x4plus.pth [params_ema]' in log
    assert 'Network UNetDiscriminatorSN, with parameters: ' in log
    assert f'ImageNet weights loaded from {vgg19_weights}' in log
    for loss in ('l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real', 'l_d_fake', 'out_d_real'):
        assert f'{loss}:' in log
    assert (gan_exp / 'models' / 'net_d_1.pth').is_file()


def test_the_published_pairdata_finetuning_file_trains_on_pairs(run_root, vgg19_weights):  # noqa: F811
    save_random_network(SMALL_RRDBNET, run_root / PRETRAINED / 'RealESRNet_x4plus.pth', 'params_ema')
    save_random_network({'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 64, 'skip_connection': True},
                        run_root / PRETRAINED / 'RealESRGAN_x4plus_netD.pth', 'params')
    exp, log = train(run_root, FINETUNE_PAIRDATA, 'train:total_iter=1', *SHORT, 'network_g:num_block=1',
                     'datasets:train:gt_size=32')
    assert 'Training set DIV2K: 3 images' in log and 'Training pairs made on' not in log
    assert 'RealESRGAN_x4plus_netD.pth [params]' in log
    assert 'l_g_gan:' in log and 'l_d_fake:' in log
    assert 'synthesis' not in load_checkpoint(exp / 'training_states' / '1.state')


# ---------------------------------------------------------------------------------------------------- the model
def recipe_options(tmp_path: Path, model_type: str = 'RealESRNetModel', **root: object) -> dict:
    """Options for a tiny recipe on a RealESRGANDataset of 4 synthetic 48x60 GT images (64-pixel squares)."""
    gt_dir = tmp_path / 'gt'
    for i in range(4):
        imwrite(synthetic_image(i, 48, 60), gt_dir / f'img{i}.png')
    val_hr, val_lr = make_pairs(tmp_path / 'val', count=1, size=(32, 32))
    opt = {
        'name': 'realesr_tiny', 'model_type': model_type, 'scale': 4, 'num_gpu': 0, 'manual_seed': 0,
        'gt_size': 32, 'queue_size': 4,
        'datasets': {
            'train': {'name': 'gt', 'type': 'RealESRGANDataset', 'dataroot_gt': str(gt_dir), 'crop_pad_size': 64,
                      'batch_size_per_gpu': 2, 'num_worker_per_gpu': 0},
            'val': {'name': 'val', 'type': 'PairedImageDataset', 'dataroot_gt': str(val_hr),
                    'dataroot_lq': str(val_lr)}},
        'network_g': {'type': 'SRVGGNetCompact', 'num_feat': 8, 'num_conv': 2, 'upscale': 4},
        'path': {'root': str(tmp_path)},
        'train': {'optim_g': {'type': 'Adam', 'lr': 1e-3}, 'total_iter': 4,
                  'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0}},
        'val': {'val_freq': 2, 'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4}}},
        'logger': {'use_tb_logger': False},
        **root,
    }
    return opt


def gt_batch(opt: dict, seed: int = 0) -> dict:
    """One training batch of RealESRGANDataset (GT squares and kernels), drawn with fixed sample seeds."""
    dataset = RealESRGANDataset(opt['datasets']['train']['dataroot_gt'], crop_pad_size=64)
    samples = [dataset[(i, f'{seed}-{i}')] for i in range(2)]
    return {key: torch.stack([s[key] for s in samples]) for key in ('gt', 'kernel1', 'kernel2', 'sinc_kernel')}


def parsed_model(tmp_path: Path, opt: dict):
    return build_model(parse_options(write_yaml(tmp_path / 'opt.yml', opt), root_path=tmp_path))


def test_same_seed_same_degraded_batch_and_other_seeds_differ(tmp_path):
    opt = recipe_options(tmp_path)
    batch = gt_batch(opt)
    lqs = []
    for seed in (0, 0, 1):
        model = parsed_model(tmp_path, {**opt, 'manual_seed': seed})
        model.feed_data(batch)
        assert model.lq.shape == (2, 3, 8, 8) and model.gt.shape == (2, 3, 32, 32)
        lqs.append(model.lq)
    assert torch.equal(lqs[0], lqs[1])
    assert not torch.equal(lqs[0], lqs[2])
    assert torch.equal(lqs[0] * 255, (lqs[0] * 255).round())  # LQ on the 8-bit grid, as an image read back


def test_the_synthesis_seed_depends_on_seed_and_rank_not_on_the_global_stream():
    seeds = {synthesis_seed(s, r) for s in (0, 1) for r in (0, 1)}
    assert len(seeds) == 4 and 0 not in seeds and 1 not in seeds


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_the_same_code_degrades_on_cuda(tmp_path):
    opt = recipe_options(tmp_path, num_gpu=1)
    batch = gt_batch(opt)
    lqs = []
    for _ in range(2):
        model = parsed_model(tmp_path, opt)
        model.feed_data(batch)
        assert model.lq.device.type == 'cuda' and model.synthesis_generator.device.type == 'cuda'
        lqs.append(model.lq)
    assert lqs[0].shape == (2, 3, 8, 8) and torch.equal(lqs[0], lqs[1])


def test_realesrgan_losses_compare_with_the_sharpened_gt_as_configured(tmp_path):
    opt = recipe_options(tmp_path, 'RealESRGANModel', l1_gt_usm=True, percep_gt_usm=False, gan_gt_usm=False,
                         network_d={'type': 'UNetDiscriminatorSN', 'num_feat': 8})
    opt['train'].update(optim_d={'type': 'Adam', 'lr': 1e-3}, gan_opt={'type': 'GANLoss', 'gan_type': 'vanilla'})
    model = parsed_model(tmp_path, opt)
    model.feed_data(gt_batch(opt))
    assert not torch.equal(model.gt_usm, model.gt)
    assert model.content_target('pix') is model.gt_usm and model.content_target('percep') is model.gt
    assert model.real_images() is model.gt
    model.optimize_parameters(1)
    assert {'l_g_pix', 'l_g_gan', 'l_d_real', 'l_d_fake'} <= set(model.get_current_log())


def test_the_bsrgan_pipeline_is_one_option_away(tmp_path):
    opt = recipe_options(tmp_path, degradation='bsrgan', bsrgan={'isp_prob': 1.0})
    model = parsed_model(tmp_path, opt)
    assert type(model.degradation).__name__ == 'BSRGANDegradation' and model.degradation.isp_prob == 1.0
    model.feed_data({'gt': gt_batch(opt)['gt']})  # BSRGAN draws its own kernels
    assert model.lq.shape == (2, 3, 8, 8)


def test_validation_feeds_the_plain_pairs(tmp_path):
    opt = recipe_options(tmp_path)
    model = parsed_model(tmp_path, opt)
    val_opt = opt['datasets']['val']
    dataset = PairedImageDataset(val_opt['dataroot_gt'], val_opt['dataroot_lq'], phase='val', scale=4)
    fed = []
    original = model.test
    model.test = lambda: (fed.append(model.lq.clone()), original())
    model.validation(DataLoader(dataset, batch_size=1), 1)
    assert torch.equal(fed[0], dataset[0]['lq'][None]) and model.is_train
    assert set(model.metric_results) == {'psnr'}


def test_the_pool_mixes_batches_and_keeps_every_pair(tmp_path):
    pool = TrainingPairPool(4)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.full((2, 1, 1, 1), float(i)) for i in range(5)]
    out = [pool.exchange(b, b * 10, generator) for b in batches]
    assert all(torch.equal(out[i][0], batches[i]) for i in (0, 1))  # filling: batches pass through
    seen = torch.cat([lq for lq, _ in out[2:]]).flatten().tolist() + pool.lq.flatten().tolist()
    assert sorted(seen) == sorted(torch.cat(batches).flatten().tolist())  # nothing lost or duplicated
    assert all(torch.equal(gt, lq * 10) for lq, gt in out)  # pairs stay together
    state = pool.state_dict()
    restored = TrainingPairPool(4)
    restored.load_state_dict(state, torch.device('cpu'))
    generator2 = torch.Generator().manual_seed(1)
    generator.manual_seed(1)
    assert torch.equal(pool.exchange(batches[0], batches[0], generator)[0],
                       restored.exchange(batches[0], batches[0], generator2)[0])


@pytest.mark.parametrize('change, expected', [
    ({'datasets': {'train': {'type': 'PairedImageDataset'}}}, r'datasets\.train\.type: PairedImageDataset gives '
                                                               r'LQ/GT pairs, but high_order_degradation is true'),
    ({'high_order_degradation': False}, r'high_order_degradation: is false .* RealESRGANDataset gives GT images'),
    ({'queue_size': 5}, r'queue_size: 5 is not a multiple of datasets\.train\.batch_size_per_gpu \(2\)'),
    ({'gt_size': 128}, r'gt_size: 128 is larger than datasets\.train\.crop_pad_size \(64\)'),
    ({'resize_prob': [0.5, 0.5]}, r'resize_prob: must be 3 non-negative weights'),
    ({'jpeg_range2': [30, 120]}, r'jpeg_range2: must be \[low, high\] with 1 <= low <= high <= 100'),
    ({'bsrgan': {'isp_prob': 2}}, r'bsrgan\.isp_prob: must be a probability'),
    ({'degradation': 'kair'}, r"degradation: expected one of 'realesrgan', 'bsrgan'"),
    ({'gt_usm': 'sometimes'}, r'gt_usm: expected bool'),
])
def test_bad_synthesis_options_fail_at_parse_time_naming_the_key(tmp_path, change, expected):
    opt = recipe_options(tmp_path)
    for key, value in change.items():
        if key == 'datasets':  # the pairs of a paired dataset instead of RealESRGANDataset's GT
            gt = opt['datasets']['train']['dataroot_gt']
            opt['datasets']['train'] = {'name': 'pairs', **value['train'], 'dataroot_gt': gt, 'dataroot_lq': gt,
                                        'batch_size_per_gpu': 2}
        else:
            opt[key] = value
    with pytest.raises(OptionError, match=r'opt\.yml, line \d+: ' + expected):
        parse_options(write_yaml(tmp_path / 'opt.yml', opt), root_path=tmp_path)


def test_option_defaults_are_the_published_values(tmp_path):
    opt = parse_options(write_yaml(tmp_path / 'opt.yml', recipe_options(tmp_path)), root_path=tmp_path)
    published = parse_options(REALESRNET_X4PLUS, root_path=tmp_path)
    for key in ('resize_prob', 'resize_range', 'noise_range', 'jpeg_range2', 'second_blur_prob', 'gt_usm',
                'gray_noise_prob2', 'poisson_scale_range2', 'high_order_degradation'):
        assert opt[key] == published[key], key
    assert np.isclose(opt['gaussian_noise_prob'], 0.5)


@pytest.mark.parametrize('shipped, published', [('realesrnet_x4plus.yml', REALESRNET_X4PLUS),
                                                ('realesrgan_x4plus.yml', REALESRGAN_X4PLUS)])
def test_the_shipped_recipes_have_the_published_values(tmp_path, shipped, published):
    ours = parse_options(ROOT / 'options' / shipped, root_path=tmp_path)
    theirs = parse_options(published, root_path=tmp_path)
    for key in ('model_type', 'scale', 'network_g', 'network_d', 'train', 'gt_usm', 'l1_gt_usm', 'percep_gt_usm',
                'gan_gt_usm', *SYNTHESIS_KEYS):
        assert ours.get(key) == theirs.get(key), key
    kernel_keys = set(theirs['datasets']['train']) - {'name', 'dataroot_gt', 'meta_info'}
    assert {k: ours['datasets']['train'][k] for k in kernel_keys} == \
        {k: theirs['datasets']['train'][k] for k in kernel_keys}
    assert ours['path']['pretrain_network_g'].endswith(Path(theirs['path']['pretrain_network_g']).name)


@pytest.mark.parametrize('demo', ['train_realesrnet_x4_demo.yml', 'train_realesrgan_x4_demo.yml'])
def test_the_demo_option_files_validate(demo):
    opt = parse_options(ROOT / 'options' / 'demo' / demo, root_path=ROOT)
    assert opt['model_type'] in ('RealESRNetModel', 'RealESRGANModel')
    assert opt['num_gpu'] == torch.cuda.device_count()  # 'auto', resolved
    assert opt['queue_size'] % opt['datasets']['train']['batch_size_per_gpu'] == 0


def test_the_synthesis_state_restores_generator_and_pool(tmp_path, basicsr_log):
    opt = recipe_options(tmp_path, deterministic=True)
    batch = gt_batch(opt)
    model = parsed_model(tmp_path, opt)
    for _ in range(2):  # fills the pool of 4
        model.feed_data(batch)
    state = model.synthesis_state()
    assert state['pool']['filled'] == 4
    model.feed_data(batch)
    expected = model.lq

    same = parsed_model(tmp_path, {**opt, 'manual_seed': 5})
    same.load_synthesis_state(state)
    same.feed_data(batch)
    assert torch.equal(same.lq, expected)  # same generator state and pool: same pairs

    other = parsed_model(tmp_path, {**opt, 'queue_size': 2})
    other.load_synthesis_state(state)
    assert 'The saved pool holds 4 pairs, queue_size is 2: the pool starts empty.' in basicsr_log.text
    assert other.pair_pool.filled == 0
