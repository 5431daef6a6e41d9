"""One-line warnings about option values that are valid but probably not what a short or odd run wants."""
from typing import Any

# The EMA copy is considered still close to its starting weights while they weigh more than this in it.
EMA_START_WEIGHT_LIMIT = 0.1


def sanity_warnings(opt: dict[str, Any]) -> list[str]:
    """The warnings for parsed training options (empty when nothing looks odd)."""
    train, val = opt.get('train') or {}, opt.get('val') or {}
    total = train.get('total_iter')
    warnings = []
    if isinstance(total, int):
        warnings += _ema_warnings(opt, train, total)
        warnings += _schedule_warnings(train, total)
    if any(name.split('_')[0] == 'val' for name in opt.get('datasets', {})) and not val.get('metrics'):
        warnings.append('val: no metrics are configured, so validation computes nothing (it only saves images '
                        'when val.save_img is true); add e.g. val.metrics.psnr: {type: calculate_psnr}.')
    return warnings


def _ema_warnings(opt: dict[str, Any], train: dict[str, Any], total: int) -> list[str]:
    decay = train.get('ema_decay') or 0
    if decay <= 0 or opt['path'].get('pretrain_network_g'):
        return []
    start_weight = decay ** total
    if start_weight <= EMA_START_WEIGHT_LIMIT:
        return []
    return [f'train.ema_decay {decay:g}: after total_iter {total} iterations the EMA weights are still '
            f'{start_weight:.0%} the initial (random) ones, and validation, testing and params_ema use the EMA '
            f'weights; lower train.ema_decay (below {EMA_START_WEIGHT_LIMIT ** (1 / total):.4f} for this run) '
            'or set it to 0.']


def _schedule_warnings(train: dict[str, Any], total: int) -> list[str]:
    warnings = []
    scheduler = train.get('scheduler') or {}
    periods = scheduler.get('periods')
    if isinstance(periods, list) and sum(periods) > total:
        warnings.append(f"train.scheduler.periods sum to {sum(periods)}, beyond total_iter {total}: the run ends "
                        'before the schedule does (the learning rate never reaches eta_min); scale the periods '
                        'to total_iter.')
    for key in ('milestones', 'restarts'):
        late = [m for m in scheduler.get(key) or [] if isinstance(m, int) and m > total]
        if late:
            warnings.append(f'train.scheduler.{key} {late} lie beyond total_iter {total} and never take effect.')
    warmup = train.get('warmup_iter', -1)
    if isinstance(warmup, int) and warmup >= total:
        warnings.append(f'train.warmup_iter {warmup} >= total_iter {total}: the whole run is a learning-rate '
                        'warm-up and never trains at the full rate.')
    return warnings
