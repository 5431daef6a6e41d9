"""Testing entry point: ``python test.py -opt options/test_X.yml [--force_yml k:k=v]``.

Runs the model on every dataset of the option file, saves the SR images (``val.save_img``) and writes the
metrics per image and their mean, per dataset, to the log and to ``results/<name>/metrics.csv``.
"""
import csv
import sys
from pathlib import Path
from typing import Any, Sequence

from basicsr.data import build_dataloader, build_dataset
from basicsr.metrics import mean_metrics, split_metrics
from basicsr.models import build_model
from basicsr.train import init_run, run_cli
from basicsr.utils.logger import get_env_info, get_root_logger
from basicsr.utils.misc import get_time_str, mkdir_and_rename
from basicsr.utils.run_lock import acquire_run_lock
from basicsr.config import dict2str

MEAN_ROW = 'mean'
NOT_AN_ITERATION = -1  # testing: the model's "best so far ... @ <iter>" records (kept from iteration 0) stay unset


def format_metrics_table(dataset_name: str, per_image: dict[str, dict[str, float]],
                         set_values: dict[str, float] | None = None) -> str:
    """A fixed-width text table: one row per image, then the mean (with the set-level metrics, e.g. FID, whose
    only value is the set's)."""
    summary = summary_row(per_image, set_values)
    metrics = list(summary)
    width = max([len(MEAN_ROW), *(len(name) for name in per_image)])
    header = f"{dataset_name:<{width}}  " + '  '.join(f'{m:>10}' for m in metrics)
    rows = [header, '-' * len(header)]
    for name, values in per_image.items():
        rows.append(f'{name:<{width}}  ' + '  '.join(f'{values[m]:>10.4f}' if m in values else f"{'':>10}"
                                                      for m in metrics))
    rows.append('-' * len(header))
    rows.append(f'{MEAN_ROW:<{width}}  ' + '  '.join(f'{summary[m]:>10.4f}' for m in metrics))
    return '\n'.join(rows)


def summary_row(per_image: dict[str, dict[str, float]], set_values: dict[str, float] | None) -> dict[str, float]:
    """The means of the per-image metrics and the values of the set-level ones."""
    return {**mean_metrics(per_image), **(set_values or {})}


def write_metrics_csv(path: Path, results: dict[str, dict[str, dict[str, float]]],
                      set_results: dict[str, dict[str, float]] | None = None) -> None:
    """``dataset, image, <metric>...`` rows, with a ``mean`` row closing each dataset (set-level metrics there)."""
    set_results = set_results or {}
    metrics = sorted({m for per_image in results.values() for row in per_image.values() for m in row}
                     | {m for values in set_results.values() for m in values})
    with path.open('w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(['dataset', 'image', *metrics])
        for dataset, per_image in results.items():
            for name, row in [*per_image.items(), (MEAN_ROW, summary_row(per_image, set_results.get(dataset)))]:
                writer.writerow([dataset, name, *(f'{row[m]:.6f}' if m in row else '' for m in metrics)])


def test_pipeline(root_path: str | None = None, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate the model on every dataset; returns ``{dataset: {image: {metric: value}}}`` (BasicSR's entry point
    for plug-in repositories: ``basicsr.test.test_pipeline(root_path)`` reads the command line). The results folder
    is held for the run (:mod:`basicsr.utils.run_lock`): a second test of the same name is refused, not archived."""
    opt, _ = init_run(argv, root_path, is_train=False)
    results_root = Path(opt['path']['results_root'])
    lock = acquire_run_lock(results_root, 'test') if opt['rank'] == 0 else None
    try:
        return _evaluate(opt, results_root)
    finally:
        if lock is not None:
            lock.release()


def _evaluate(opt: dict[str, Any], results_root: Path) -> dict[str, Any]:
    """Move an earlier results folder aside, run the model on every dataset, write the metrics."""
    if opt['rank'] == 0:
        mkdir_and_rename(results_root)
    logger = get_root_logger(log_file=results_root / f"test_{opt['name']}_{get_time_str()}.log")
    logger.info(get_env_info())
    logger.info('Options:\n' + dict2str(opt))
    loaders = []
    for dataset_opt in opt['datasets'].values():
        dataset = build_dataset(dataset_opt)
        loaders.append((dataset_opt['name'], build_dataloader(dataset, dataset_opt)))
        logger.info(f"Test set {dataset_opt['name']}: {len(dataset)} images.")
    model = build_model(opt)
    _, set_metrics_opt = split_metrics(opt['val']['metrics'] or {})
    results, set_results = {}, {}
    for name, loader in loaders:
        logger.info(f'Testing {name}...')
        per_image = model.validation(loader, NOT_AN_ITERATION, None, opt['val']['save_img'])
        set_values = {m: model.metric_results[m] for m in set_metrics_opt if m in getattr(model, 'metric_results', {})}
        if (per_image and next(iter(per_image.values()))) or set_values:
            results[name], set_results[name] = per_image, set_values
            logger.info('\n' + format_metrics_table(name, per_image, set_values))
    if results and opt['rank'] == 0:
        write_metrics_csv(results_root / 'metrics.csv', results, set_results)
        logger.info(f"Metrics written to {results_root / 'metrics.csv'}.")
    return results


def main(argv: Sequence[str] | None = None, root_path: str | None = None) -> int:
    """Console entry point (``basicsr-test``)."""
    return run_cli(test_pipeline, argv, root_path)


if __name__ == '__main__':
    sys.exit(main())
