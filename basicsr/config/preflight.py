"""Every input file a run reads, checked before any folder is created or moved; all problems reported at once."""
from pathlib import Path
from typing import Any, Iterable, Iterator

from basicsr.data.data_util import smallest_image_size
from basicsr.utils.errors import BasicSRError, OptionError, OptionErrors
from basicsr.utils.known_files import download_hint
from basicsr.config.resolve import dataset_path_keys
from basicsr.utils.registry import REGISTRIES, accepted_arguments


def check_inputs(opt: dict[str, Any]) -> None:
    """Raise one :class:`OptionErrors` listing every missing dataset, pretrained network, resume state and data
    file of a plug-in (a plug-in class names its files through an optional ``check_files(**arguments)`` that
    raises a BasicSRError, e.g. :class:`~basicsr.losses.perceptual_loss.PerceptualLoss` for the VGG weights)."""
    problems = list(_missing_paths(opt)) + list(_plugin_problems(opt))
    if not problems:  # needs the datasets
        problems = list(_crop_border_problems(opt))
    if problems:
        raise OptionErrors([OptionError(f'{key_path}: {message}', key_path=key_path)
                            for key_path, message in problems])


def _missing_paths(opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, dataset in opt['datasets'].items():
        for key in dataset_path_keys(dataset):
            value = dataset.get(key)
            if isinstance(value, str) and not Path(value).exists():
                yield f'datasets.{name}.{key}', f'{value} does not exist.' + download_hint(value)
    for key, value in opt['path'].items():
        if (key.startswith('pretrain_network_') or key == 'resume_state') and value and not Path(value).is_file():
            yield f'path.{key}', f'{value}: file not found.' + download_hint(value)


def _crop_border_problems(opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A metric's ``crop_border`` that leaves nothing of the smallest validation image (found now, not after the
    first stretch of training)."""
    metrics = (opt.get('val') or {}).get('metrics') or {}
    borders = {name: m['crop_border'] for name, m in metrics.items() if isinstance(m.get('crop_border'), int)}
    for phase, dataset in opt['datasets'].items():
        folder = dataset.get('dataroot_gt')
        if not borders or phase.split('_')[0] == 'train' or not isinstance(folder, str):
            continue
        try:
            size = smallest_image_size(folder)
        except BasicSRError:  # reported when the dataset is made
            continue
        for name, border in borders.items():
            if size and 2 * border >= min(size):
                yield (f'val.metrics.{name}.crop_border', f'{border} pixels from each edge leave nothing of the '
                       f'smallest image of datasets.{phase} ({size[0]}x{size[1]}).')


def _plugin_problems(opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
    train = opt.get('train') or {}
    sections = [(key, value, 'arch') for key, value in opt.items() if key.startswith('network_')]
    sections += [(f'train.{key}', value, 'loss') for key, value in train.items() if key.endswith('_opt')]
    sections += [(f'train.losses.{i}', value, 'loss') for i, value in enumerate(train.get('losses') or [])]
    sections += [(f'val.metrics.{key}', value, 'metric') for key, value in opt['val']['metrics'].items()]
    yield from plugin_file_problems(sections)


def plugin_file_problems(sections: Iterable[tuple[str, Any, str]]) -> Iterator[tuple[str, str]]:
    """``(key path, problem)`` for each plug-in section ``(key path, options, registry)`` whose plug-in (class or
    function) names its files through ``check_files(**arguments)`` and finds one missing (a BasicSRError)."""
    for key_path, section, registry in sections:
        if not isinstance(section, dict) or section.get('type') not in REGISTRIES[registry]:
            continue
        check = getattr(REGISTRIES[registry].get(section['type']), 'check_files', None)
        if check is None:
            continue
        accepted = accepted_arguments(check)
        try:
            check(**{k: v for k, v in section.items() if k != 'type' and (accepted is None or k in accepted)})
        except BasicSRError as err:
            yield key_path, str(err)


def check_plugin_files(sections: Iterable[tuple[str, Any, str]]) -> None:
    """Raise one :class:`OptionErrors` for the plug-in sections whose files are missing (see
    :func:`plugin_file_problems`)."""
    problems = list(plugin_file_problems(sections))
    if problems:
        raise OptionErrors([OptionError(f'{key_path}: {message}', key_path=key_path)
                            for key_path, message in problems])
