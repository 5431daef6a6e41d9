"""DSGAN and ESRGAN-FS: frequency filters, networks, the unpaired dataset, training with validation figures and
exact resuming, the degradation script, the frequency-separated ESRGAN and the demo's target domain."""
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from basicsr.archs import build_network
from basicsr.data.data_util import single_paths
from basicsr.data.demo_data import write_degraded
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.transforms import bicubic_lq
from basicsr.data.unpaired_image_dataset import UnpairedImageDataset
from basicsr.losses.dsgan_loss import LowFrequencyLoss
from basicsr.models.lr_scheduler import LinearDecayLR
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.frequency import FrequencySeparation, gaussian_kernel, high_frequency_energy
from basicsr.utils.img_util import img2tensor, imread, imwrite
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from basicsr.utils.options import parse_options

from conftest import ROOT, make_pairs, synthetic_image, write_yaml
from test_gan_training import build_from, esrgan_argv, gan_options

sys.path.insert(0, str(ROOT / 'scripts'))
import dsgan_degrade  # noqa: E402

FILTERS = [('avg', 5), ('avg', 9), ('gaussian', 5), ('wavelet', 5)]


# ----------------------------------------------------------------------------------------------- filters
@pytest.mark.parametrize('filter_type,kernel_size', FILTERS)
@pytest.mark.parametrize('padding_mode', ['reflect', 'replicate'])
@pytest.mark.parametrize('size', [(32, 32), (13, 7), (3, 5)])
def test_constant_image_is_all_low_frequency(filter_type, kernel_size, padding_mode, size):
    separation = FrequencySeparation(filter_type, kernel_size, padding_mode=padding_mode)
    image = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(2, 3, *size).contiguous()
    low, high = separation(image)
    assert low.shape == high.shape == image.shape
    torch.testing.assert_close(low, image, rtol=0, atol=1e-6)  # borders included
    assert high.abs().max() <= 1e-6
    if filter_type != 'gaussian':  # box and Haar means of a dyadic value are exact; Gaussian weights are rounded
        assert separation.high(torch.full((1, 3, *size), 0.5)).eq(0).all()


@pytest.mark.parametrize('filter_type,kernel_size', FILTERS)
@pytest.mark.parametrize('dtype,atol', [(torch.float32, 2**-23), (torch.float64, 1e-15)])
def test_low_plus_high_reconstructs_the_input(filter_type, kernel_size, dtype, atol):
    image = torch.rand(2, 3, 21, 18, generator=torch.Generator().manual_seed(0), dtype=dtype)
    low, high = FrequencySeparation(filter_type, kernel_size)(image)
    assert low.dtype == high.dtype == dtype
    torch.testing.assert_close(low + high, image, rtol=0, atol=atol)  # one rounding, no more
    assert high.abs().mean() > 0.05  # and the split is not trivial


@pytest.mark.parametrize('filter_type,kernel_size', FILTERS)
def test_low_pass_removes_noise_and_high_frequency_energy_measures_it(filter_type, kernel_size):
    noise = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1)) * (8 / 255)
    separation = FrequencySeparation(filter_type, kernel_size)
    assert separation.low(noise).std() < 0.55 * noise.std()
    energy = high_frequency_energy(noise, separation)
    assert energy.shape == (1,)
    if filter_type == 'avg':  # white noise of std 8 keeps 64 (1 - 1/k^2) of its energy above the box filter
        assert energy.item() == pytest.approx(64 * (1 - 1 / kernel_size**2), rel=0.05)
    assert high_frequency_energy(torch.full((2, 3, 16, 16), 0.3), separation).abs().max() < 1e-6


def test_haar_low_pass_is_the_block_mean_and_ignores_checkerboards():
    blocks = torch.arange(16.).view(1, 1, 4, 4)
    low = FrequencySeparation('wavelet').low(blocks)
    assert low[0, 0, :2, :2].eq(blocks[0, 0, :2, :2].mean()).all()
    checker = (torch.arange(6).view(-1, 1) + torch.arange(8)).remainder(2).float().view(1, 1, 6, 8)
    torch.testing.assert_close(FrequencySeparation('wavelet').low(checker), torch.full_like(checker, 0.5))


def test_gaussian_kernel_and_filter_arguments():
    kernel = gaussian_kernel(5, 5 / 6)
    assert kernel.sum().item() == pytest.approx(1.0) and torch.equal(kernel, kernel.T)
    assert kernel[2, 2] > kernel[2, 1] > kernel[2, 0]
    assert FrequencySeparation('gaussian', 7).state_dict() == {}  # nothing of it ends up in checkpoints
    for bad in ({'kernel_size': 4}, {'filter': 'median'}, {'padding_mode': 'zeros'}, {'sigma': 0.0}):
        with pytest.raises(ValueError):
            FrequencySeparation(**bad)


# ----------------------------------------------------------------------------------------------- networks
def test_dsgan_parameter_counts_shapes_and_official_keys():
    generator, discriminator = build_network({'type': 'DSGANGenerator'}), build_network({'type': 'DSGANDiscriminator'})
    assert sum(p.numel() for p in generator.parameters()) == 594_380
    assert sum(p.numel() for p in discriminator.parameters()) == 1_030_273
    x = torch.rand(2, 3, 12, 10)
    out = generator(x)
    assert out.shape == x.shape and out.min() > 0 and out.max() < 1  # sigmoid output, same size
    assert discriminator(x).shape == (2, 1, 12, 10)  # one logit per pixel
    assert {'block_input.0.weight', 'block_input.1.weight', 'res_blocks.7.prelu.weight',
            'block_output.bias'} <= set(generator.state_dict())
    official = {f'net.{k}': v for k, v in discriminator.state_dict().items()}
    official['filter.filter_low.filter.gaussian_filter.weight'] = torch.ones(3, 1, 5, 5)
    converted = discriminator.convert_state_dict(official)
    assert list(converted) == list(discriminator.state_dict())


# ----------------------------------------------------------------------------------------------- dataset
def unpaired_folders(root: Path) -> tuple[Path, Path]:
    """Source HR images and, as targets, exactly their bicubic LR images (so a paired crop would be detectable)."""
    hr_dir, lr_dir = make_pairs(root, count=3, size=(48, 56))
    return hr_dir, lr_dir


def test_unpaired_crops_are_independent_reproducible_and_bicubic(tmp_path):
    source, target = unpaired_folders(tmp_path)
    dataset = UnpairedImageDataset(str(source), str(target), gt_size=16, scale=4)
    assert len(dataset) == 3
    sample = dataset[(1, 123)]
    again = dataset[(1, 123)]
    assert sample['lq'].shape == sample['target'].shape == (3, 4, 4)
    assert torch.equal(sample['lq'], again['lq']) and torch.equal(sample['target'], again['target'])
    assert sample['target_path'] == again['target_path']
    draws = [dataset[(1, seed)] for seed in range(40)]
    assert len({d['target_path'] for d in draws}) == 3  # targets are drawn from the whole target set
    assert len({d['lq'].numpy().tobytes() for d in draws}) > 10  # crops move with the seed
    # The targets are the sources' own bicubic images: a crop tied to the source crop would match it every time.
    matches = sum(torch.equal(d['lq'], d['target']) for d in draws)
    assert matches < 8
    # The source crop is a crop of the project's bicubic downscaling of the whole image.
    whole = img2tensor(bicubic_lq(imread(single_paths(str(source))[1], float32=True), 4))
    windows = whole.unfold(1, 4, 1).unfold(2, 4, 1)  # (3, rows, cols, 4, 4)
    assert any(torch.equal(windows[:, r, c], d['lq']) for d in draws[:3]
               for r in range(windows.shape[1]) for c in range(windows.shape[2]))


def test_unpaired_folder_and_lmdb_give_identical_samples(tmp_path):
    source, target = unpaired_folders(tmp_path)
    dbs = []
    for folder in (source, target):
        names = sorted(p.name for p in folder.iterdir())
        db = tmp_path / f'{folder.name}.lmdb'
        make_lmdb_from_imgs(folder, db, names, [Path(n).stem for n in names], progress=False)
        dbs.append(str(db))
    on_disk = UnpairedImageDataset(str(source), str(target), gt_size=16, use_hflip=True, use_rot=True)
    in_lmdb = UnpairedImageDataset(*dbs, io_backend={'type': 'lmdb'}, gt_size=16, use_hflip=True, use_rot=True)
    for key in [(0, 5), (2, 77), (1, 2024)]:
        a, b = on_disk[key], in_lmdb[key]
        assert torch.equal(a['lq'], b['lq']) and torch.equal(a['target'], b['target'])
        assert Path(a['target_path']).stem == b['target_path']


def test_unpaired_validation_covers_both_sets_and_checks_sizes(tmp_path):
    source, _ = unpaired_folders(tmp_path)
    for i in range(5):
        imwrite(synthetic_image(50 + i, 10, 12), tmp_path / 'real' / f'r{i}.png')
    dataset = UnpairedImageDataset(str(source), str(tmp_path / 'real'), phase='val', scale=4)
    assert len(dataset) == 5
    samples = [dataset[i] for i in range(5)]
    assert {Path(s['target_path']).name for s in samples} == {f'r{i}.png' for i in range(5)}
    assert samples[3]['lq_path'] == samples[0]['lq_path']
    assert samples[0]['lq'].shape == (3, 12, 14) and samples[0]['target'].shape == (3, 10, 12)
    with pytest.raises(DataError, match='gt_size is required'):
        UnpairedImageDataset(str(source), str(tmp_path / 'real'))
    with pytest.raises(DataError, match=r'r\d\.png \(12x10\) is smaller than the target patch size 12x12'):
        UnpairedImageDataset(str(source), str(tmp_path / 'real'), gt_size=48)[(0, 1)]


# ----------------------------------------------------------------------------------------------- DSGAN training
DSGAN_NAME = 'DSGAN_x4_DF2K'
FIGURES = ('color_psnr', 'hf_energy_generated', 'hf_energy_bicubic', 'hf_energy_target')


def dsgan_argv(tmp_path: Path, total_iter: int, *flags: str) -> list[str]:
    """options/dsgan_x4.yml as shipped, on tiny synthetic data with tiny networks, 128-pixel source patches (32 at
    low resolution: the LPIPS AlexNet needs 31)."""
    source, _ = make_pairs(tmp_path / 'train', count=3, size=(136, 140))
    val_source, _ = make_pairs(tmp_path / 'val', count=2, size=(32, 36), seed=100)
    for i in range(3):
        imwrite(synthetic_image(200 + i, 36, 40), tmp_path / 'real' / f'real{i}.png')
    overrides = [
        f'path:root={tmp_path}', 'num_gpu=0',
        f'datasets:train:dataroot_source={source}', f'datasets:train:dataroot_target={tmp_path / "real"}',
        'datasets:train:gt_size=128', 'datasets:train:num_worker_per_gpu=0', 'datasets:train:batch_size_per_gpu=2',
        f'datasets:val:dataroot_source={val_source}', f'datasets:val:dataroot_target={tmp_path / "real"}',
        'network_g:num_feat=8', 'network_g:num_block=1', 'network_d:num_feat=4',
        'train:perceptual_opt:pretrained=false',
        f'train:total_iter={total_iter}', 'train:scheduler:start=2', 'train:scheduler:end=4',
        'val:val_freq=2', 'logger:print_freq=1', 'logger:save_checkpoint_freq=2',
    ]
    return ['-opt', str(ROOT / 'options' / 'dsgan_x4.yml'), '--force_yml', *overrides, *flags]


def test_dsgan_option_file_trains_logs_figures_and_resumes_exactly(tmp_path):
    train_pipeline(argv=dsgan_argv(tmp_path / 'a', 3))
    train_pipeline(argv=dsgan_argv(tmp_path / 'b', 2))  # "interrupted" after iteration 2
    train_pipeline(argv=dsgan_argv(tmp_path / 'b', 3, '--auto_resume'))
    straight, resumed = tmp_path / 'a' / 'experiments' / DSGAN_NAME, tmp_path / 'b' / 'experiments' / DSGAN_NAME
    for net in ('net_g', 'net_d'):
        final_a = load_checkpoint(straight / 'models' / f'{net}_3.pth')['params']
        final_b = load_checkpoint(resumed / 'models' / f'{net}_3.pth')['params']
        start = load_checkpoint(straight / 'models' / f'{net}_2.pth')['params']
        assert any(not torch.equal(v, final_a[k]) for k, v in start.items())  # it trains
        assert all(torch.equal(v, final_b[k]) for k, v in final_a.items()), net
    state = load_checkpoint(straight / 'training_states' / '3.state')
    assert [g['lr'] for o in state['optimizers'] for g in o['param_groups']] == [1e-4, 1e-4]  # half-way down

    log = next(straight.glob(f'train_{DSGAN_NAME}_*.log')).read_text()
    assert 'Frequency separation: FrequencySeparation(filter=avg, kernel_size=5' in log
    for name in ('l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real', 'l_d_fake', *FIGURES):
        assert f'{name}:' in log, name
    assert (straight / 'visualization' / 'img00' / 'img00_2.png').is_file()
    events = EventAccumulator(str(next((tmp_path / 'a' / 'tb_logger' / DSGAN_NAME).glob('events.out.tfevents.*'))))
    events.Reload()
    assert {f'metrics/real_world_val/{name}' for name in FIGURES} <= set(events.Tags()['scalars'])
    grid = events.Images('images/real_world_val/img00')[-1]
    assert (grid.width, grid.height) == (2 * 9, 8)  # X_b | G(X_b)
    bicubic = events.Scalars('metrics/real_world_val/hf_energy_bicubic')
    assert len(bicubic) == 2 and bicubic[0].value > 0


def test_dsgan_figures_and_what_the_discriminator_sees(tmp_path):
    opt = {'name': 'x', 'model_type': 'DSGANModel', 'num_gpu': 0, 'path': {'root': str(tmp_path)},
           'datasets': {'train': {'name': 't', 'type': 'UnpairedImageDataset', 'dataroot_source': 's',
                                  'dataroot_target': 't', 'gt_size': 32}},
           'network_g': {'type': 'DSGANGenerator', 'num_feat': 4, 'num_block': 1},
           'network_d': {'type': 'DSGANDiscriminator', 'num_feat': 4},
           'train': {'total_iter': 1, 'optim_g': {'type': 'Adam', 'lr': 2e-4},
                     'optim_d': {'type': 'Adam', 'lr': 2e-4}, 'pixel_opt': {'type': 'L1Loss'},
                     'gan_opt': {'type': 'GANLoss'}}}
    model = build_from(tmp_path, opt)  # no train.frequency_separation: DSGAN's default filter
    assert model.frequency_separation.filter_type == 'avg' and model.frequency_separation.kernel_size == 5
    seen = []
    model.net_d.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    lq, target = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    model.feed_data({'lq': lq, 'target': target})
    model.optimize_parameters(1)
    high = model.frequency_separation.high
    assert torch.allclose(seen[1], high(target)) and torch.allclose(seen[2], high(model.output))
    assert isinstance(model.cri_pix, LowFrequencyLoss)
    model.output = lq.clone()
    figures = model.degradation_figures()
    assert figures['color_psnr'] > 45 and figures['hf_energy_generated'] == pytest.approx(
        figures['hf_energy_bicubic'], rel=1e-3)


# ----------------------------------------------------------------------------------------------- degradation script
def test_dsgan_degrade_writes_a_paired_set_paired_dataset_reads(tmp_path, capsys):
    net_opt = {'type': 'DSGANGenerator', 'num_feat': 4, 'num_block': 1}
    torch.manual_seed(0)
    net = build_network(net_opt)
    torch.save({'params': net.state_dict()}, tmp_path / 'g.pth')
    opt_file = write_yaml(tmp_path / 'g.yml', {'scale': 4, 'network_g': net_opt})
    for i, size in enumerate([(50, 61), (36, 44)]):
        imwrite(synthetic_image(i, *size), tmp_path / 'hr' / 'sub' / f'im{i}.png')
    out = tmp_path / 'set'
    argv = ['--opt', str(opt_file), '--weights', str(tmp_path / 'g.pth'), '--input', str(tmp_path / 'hr'),
            '--output', str(out), '--device', 'cpu']
    assert dsgan_degrade.main(argv) == 0
    assert '2 HR/LR pairs (x4' in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith('.')) == []  # no temporary left
    hr, lr = imread(out / 'HR' / 'sub' / 'im0.png'), imread(out / 'LR' / 'sub' / 'im0.png')
    assert hr.shape == (48, 60, 3) and lr.shape == (12, 15, 3)
    with torch.no_grad():
        expected = net(img2tensor(bicubic_lq(hr / 255., 4).astype(np.float32)).unsqueeze(0))
    assert np.abs(lr[..., ::-1].astype(float) - expected[0].permute(1, 2, 0).numpy() * 255).max() <= 0.5 + 1e-3
    val = PairedImageDataset(str(out / 'HR'), str(out / 'LR'), phase='val')
    assert [tuple(val[i]['gt'].shape) for i in range(2)] == [(3, 48, 60), (3, 36, 44)]
    train = PairedImageDataset(str(out / 'HR'), str(out / 'LR'), gt_size=32, phase='train')
    assert train[(0, 3)]['lq'].shape == (3, 8, 8)

    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        dsgan_degrade.main(argv)
    assert dsgan_degrade.main([*argv, '--overwrite', '--cleanup-factor', '2']) == 0
    assert imread(out / 'HR' / 'sub' / 'im0.png').shape == (24, 28, 3)  # 25x31 after clean-up, mod-cropped


# ----------------------------------------------------------------------------------------------- ESRGAN-FS
def test_esrgan_fs_option_file_trains(tmp_path):
    argv = esrgan_argv(tmp_path, 2)
    argv[1] = str(ROOT / 'options' / 'esrgan_fs_x4.yml')
    train_pipeline(argv=argv)
    folder = tmp_path / 'experiments' / 'ESRGAN_FS_x4_DF2K_dsgan'
    assert (folder / 'models' / 'net_d_2.pth').is_file()
    log = next(folder.glob('train_*.log')).read_text()
    assert 'Frequency separation: FrequencySeparation(filter=avg, kernel_size=9' in log and 'l_g_gan:' in log


@pytest.fixture
def esrgan_fs_model(tmp_path):
    opt = gan_options(tmp_path, 'ESRGANModel', ema_decay=0.0,
                      frequency_separation={'filter': 'wavelet', 'kernel_size': 5})
    return build_from(tmp_path, opt)


def test_esrgan_fs_discriminator_sees_high_frequencies_only(esrgan_fs_model):
    model = esrgan_fs_model
    seen = []
    model.net_d.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    torch.manual_seed(0)
    lq, gt = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    model.feed_data({'lq': lq, 'gt': gt})
    model.optimize_parameters(1)
    high = model.frequency_separation.high
    # G step: D(fake), D(real) for the relativistic term; D step: D(real), D(fake).
    assert len(seen) == 4
    assert torch.allclose(seen[0], high(model.output)) and torch.allclose(seen[1], high(gt))
    assert torch.allclose(seen[3], high(model.output))
    seen.clear()
    model.discriminate(torch.full((2, 3, 32, 32), 0.37))  # a constant SR image has no high frequencies
    assert seen[0].abs().max() == 0


def test_esrgan_fs_pixel_loss_sees_low_frequencies_only(esrgan_fs_model):
    loss = esrgan_fs_model.cri_pix
    assert isinstance(loss, LowFrequencyLoss)
    image = torch.rand(1, 3, 8, 8)
    checker = (torch.arange(8).view(-1, 1) + torch.arange(8)).remainder(2).float() * 0.2 - 0.1
    assert loss(image + checker, image).item() < 1e-7  # a Haar-high-frequency difference costs nothing
    assert loss(image + 0.1, image).item() == pytest.approx(0.1 * 1.0, rel=1e-4)  # L1 weight 1, colour shift


def test_esrgan_without_frequency_separation_is_unchanged(tmp_path):
    model = build_from(tmp_path, gan_options(tmp_path, 'ESRGANModel'))
    assert model.frequency_separation is None and not isinstance(model.cri_pix, LowFrequencyLoss)
    image = torch.rand(2, 3, 32, 32)
    seen = []
    model.net_d.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    model.discriminate(image)
    assert seen[0] is image


@pytest.mark.parametrize('path', ['options/dsgan_x4.yml', 'options/esrgan_fs_x4.yml',
                                  'options/demo/train_dsgan_x4_demo.yml', 'options/demo/train_esrgan_fs_x4_demo.yml'])
def test_option_files_validate(path):
    opt = parse_options(ROOT / path, is_train=True, root_path=str(ROOT))
    assert opt['train']['frequency_separation']['filter'] == 'avg'


def test_frequency_separation_options_are_checked(tmp_path):
    opt = {'name': 'x', 'model_type': 'ESRGANModel', 'datasets': {}, 'network_g': {'type': 'MSRResNet'},
           'train': {'total_iter': 1, 'frequency_separation': {'filter': 'avg', 'kernel_size': 4}}}
    with pytest.raises(OptionError, match='kernel_size: must be a positive odd number'):
        parse_options(write_yaml(tmp_path / 'o.yml', opt), is_train=False)
    opt['train']['frequency_separation'] = {'filter': 'box'}
    with pytest.raises(OptionError, match='frequency_separation.filter'):
        parse_options(write_yaml(tmp_path / 'o.yml', opt), is_train=False)


# ----------------------------------------------------------------------------------------------- schedule, demo data
def test_linear_decay_schedule():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=2e-4)
    schedule = LinearDecayLR(optimizer, start=100, end=200)
    rates = []
    for iteration in (0, 100, 150, 200, 300):
        schedule.step_to(iteration)
        rates.append(optimizer.param_groups[0]['lr'])
    assert rates == pytest.approx([2e-4, 2e-4, 1e-4, 0.0, 0.0])


def test_demo_target_domain_is_reproducible_and_noisier(tmp_path):
    ramp = np.linspace(40, 200, 44)
    for i in range(2):  # smooth images, whose high frequencies are the added noise
        imwrite(np.stack([ramp[None].repeat(40, 0) + 10 * i] * 3, axis=2).round().astype(np.uint8),
                tmp_path / 'lr' / f'im{i}.png')
    write_degraded(tmp_path / 'lr', tmp_path / 'a')
    write_degraded(tmp_path / 'lr', tmp_path / 'b')
    separation = FrequencySeparation()
    for name in ('im0.png', 'im1.png'):
        a, b, clean = (imread(tmp_path / d / name) for d in ('a', 'b', 'lr'))
        assert np.array_equal(a, b) and a.shape == clean.shape
        assert 4 < np.abs(a.astype(float) - clean).mean() < 10
        energies = [high_frequency_energy(img2tensor(x / 255.).unsqueeze(0), separation).item() for x in (a, clean)]
        assert energies[1] < 2 and energies[0] == pytest.approx(64 * (1 - 1 / 25), rel=0.25)  # sigma 8 survives


def test_unused_random_module_state_does_not_change_samples(tmp_path):
    """Samples depend on the sampler's seed only, not on the global generators (reproducible with workers)."""
    source, target = unpaired_folders(tmp_path)
    dataset = UnpairedImageDataset(str(source), str(target), gt_size=16, use_hflip=True, use_rot=True)
    random.seed(1)
    torch.manual_seed(1)
    first = dataset[(2, 9)]
    random.seed(2)
    torch.manual_seed(2)
    second = dataset[(2, 9)]
    assert torch.equal(first['lq'], second['lq']) and torch.equal(first['target'], second['target'])


def test_dsgan_model_evaluates_a_trained_generator_in_test_mode(tmp_path):
    from basicsr.test import test_pipeline
    net_opt = {'type': 'DSGANGenerator', 'num_feat': 4, 'num_block': 1}
    torch.save({'params': build_network(net_opt).state_dict()}, tmp_path / 'g.pth')
    source, target = unpaired_folders(tmp_path)
    opt = {'name': 'dsgan_eval', 'model_type': 'DSGANModel', 'num_gpu': 0, 'network_g': net_opt,
           'path': {'root': str(tmp_path), 'pretrain_network_g': str(tmp_path / 'g.pth')},
           'datasets': {'test': {'name': 'held_out', 'type': 'UnpairedImageDataset', 'dataroot_source': str(source),
                                 'dataroot_target': str(target)}},
           'val': {'save_img': True}}
    results = test_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'test.yml', opt))])
    assert sorted(results['held_out']) == ['img00', 'img01', 'img02']
    assert set(results['held_out']['img00']) == {'color_psnr', 'hf_energy_generated', 'hf_energy_bicubic'}
    csv = (tmp_path / 'results' / 'dsgan_eval' / 'metrics.csv').read_text()
    assert csv.splitlines()[0] == 'dataset,image,color_psnr,hf_energy_bicubic,hf_energy_generated'
    assert (tmp_path / 'results' / 'dsgan_eval' / 'visualization' / 'held_out' / 'img00_dsgan_eval.png').is_file()
