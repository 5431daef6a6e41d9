"""Plot the training losses and validation metrics of one or several runs into one PNG.

    python scripts/plot_logs.py experiments/demo_MSRResNet_x4 --output curves.png
    python scripts/plot_logs.py 'L1=experiments/001_L1' 'Charbonnier=experiments/002_Charb' -o cmp.png --smooth 0.6

A run is an experiment folder (``experiments/NAME``, whose TensorBoard events are looked for in the sibling
``tb_logger/NAME``), a folder of TensorBoard event files, an event file or a ``train_*.log`` text log (BasicSR's
format works too); ``LABEL=PATH`` sets its legend label. ``--source auto`` (the default) reads the TensorBoard
events when there are some and the text log otherwise. Runs are overlaid, one colour each: one panel per loss
(``losses/l_*``; log scale when the values are positive and span more than a decade) and one per validation metric
(a line per run and validation set). In a text log a validation is dated by the nearest iteration logged before it,
which is exact when ``val_freq`` is a multiple of ``print_freq`` or of ``save_checkpoint_freq``; TensorBoard events
are always exact.
"""
import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from _plotting import pyplot
from basicsr.utils.errors import DataError

Series = dict[int, float]  # iteration -> value
EVENTS_GLOB = 'events.out.tfevents.*'
_TRAIN_LINE = re.compile(r'\[epoch:\s*\d+, iter:\s*([\d,]+), lr:\(([^)]*)\)\](.*)$')
_NUMBER = r'[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)'
_VALUE = re.compile(rf'(\w+): ({_NUMBER})(?:\s|$)')
_ITER_MARK = re.compile(r'(?:Saving models and training state of iteration|Resuming training from epoch \d+, '
                        r'iteration) ([\d,]+)')
_VALIDATION = re.compile(r'INFO: Validation (.+?)\s*$')
_METRIC_LINE = re.compile(rf'^\s*# (\w+): ({_NUMBER})')


@dataclass
class Run:
    label: str
    source: Path
    scalars: dict[str, Series] = field(default_factory=dict)

    def add(self, tag: str, step: int, value: float) -> None:
        self.scalars.setdefault(tag, {})[step] = value


def parse_text_log(path: Path, label: str) -> Run:
    """Losses (``losses/<name>``, or ``<name>`` when it does not start with ``l_``), ``lr`` and validation
    metrics (``metrics/<dataset>/<metric>``) of a training log."""
    run = Run(label, path)
    current_iter, dataset = 0, None
    for line in path.read_text(encoding='utf-8', errors='replace').splitlines():
        if dataset is not None:
            metric = _METRIC_LINE.match(line)
            if metric:
                run.add(f'metrics/{dataset}/{metric.group(1)}', current_iter, float(metric.group(2)))
                continue
            dataset = None
        if match := _TRAIN_LINE.search(line):
            current_iter = int(match.group(1).replace(',', ''))
            run.add('lr', current_iter, float(match.group(2).split(',')[0]))
            for name, value in _VALUE.findall(match.group(3).split(']')[-1]):
                run.add(f'losses/{name}' if name.startswith('l_') else name, current_iter, float(value))
        elif match := _ITER_MARK.search(line):
            current_iter = int(match.group(1).replace(',', ''))
        elif match := _VALIDATION.search(line):
            dataset = match.group(1)
    return run


def read_events(paths: list[Path], label: str, source: Path) -> Run:
    """Every scalar of the event files, read in name (= creation time) order so a resumed run's later values win."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run = Run(label, source)
    for path in sorted(paths, key=lambda p: p.name):
        events = EventAccumulator(str(path), size_guidance={'scalars': 0})
        events.Reload()
        for tag in events.Tags()['scalars']:
            for event in events.Scalars(tag):
                run.add(tag, event.step, event.value)
    return run


def find_sources(path: Path) -> tuple[list[Path], Path | None]:
    """(TensorBoard event files, newest text log) of a run given as a folder or a file."""
    if path.is_file():
        return ([path], None) if path.name.startswith('events.out.tfevents.') else ([], path)
    if not path.is_dir():
        raise DataError(f'{path}: no such file or folder.')
    events = sorted(path.glob(EVENTS_GLOB)) or sorted((path.parent.parent / 'tb_logger' / path.name).glob(EVENTS_GLOB))
    logs = sorted(path.glob('train_*.log'))
    return events, (logs[-1] if logs else None)


def load_run(spec: str, source: str) -> Run:
    """The scalars of one run, ``[LABEL=]PATH``, from its events or its text log as ``source`` says."""
    label, _, raw_path = spec.rpartition('=')
    path = Path(raw_path)
    label = label or (path.parent.name if path.is_file() else path.name)
    events, log = find_sources(path)
    if source in ('auto', 'tb') and events:
        run = read_events(events, label, path)
    elif source in ('auto', 'log') and log is not None:
        run = parse_text_log(log, label)
    else:
        wanted = {'auto': 'TensorBoard events or a train_*.log', 'tb': 'TensorBoard events', 'log': 'a train_*.log'}
        raise DataError(f'{path}: found no {wanted[source]}.')
    if not any(tag.startswith(('losses/', 'metrics/')) for tag in run.scalars):
        raise DataError(f'{run.source}: no losses or validation metrics logged.')
    return run


def smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's exponential moving average (``weight`` 0 leaves the values as they are)."""
    out, last = [], None
    for value in values:
        last = value if last is None else weight * last + (1 - weight) * value
        out.append(last)
    return out


Line = tuple[Run, str, Series]  # the run, the legend, the values


def panels(runs: list[Run]) -> list[tuple[str, list[Line]]]:
    """``[(title, lines)]``: one panel per loss, then one per metric (all validation sets in it)."""
    losses = sorted({tag for run in runs for tag in run.scalars if tag.startswith('losses/')})
    metrics = sorted({tag.split('/')[-1] for run in runs for tag in run.scalars if tag.startswith('metrics/')})
    out = []
    for tag in losses:
        out.append((tag.split('/', 1)[1], [(run, run.label, run.scalars[tag]) for run in runs if tag in run.scalars]))
    for metric in metrics:
        lines = []
        for run in runs:
            for tag, series in sorted(run.scalars.items()):
                if tag.startswith('metrics/') and tag.split('/')[-1] == metric:
                    lines.append((run, f"{run.label} ({tag.split('/')[1]})", series))
        out.append((f'validation {metric}', lines))
    return out


def plot(runs: list[Run], output: Path, smoothing: float = 0.0, columns: int = 3) -> None:
    """Draw :func:`panels` on a grid and save the figure as a PNG."""
    plt = pyplot()
    content = panels(runs)
    cols = min(columns, len(content))
    rows = -(-len(content) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.8 * rows), squeeze=False)
    colours = {id(run): f'C{i % 10}' for i, run in enumerate(runs)}
    for ax, (title, lines) in zip(axes.flat, content):
        is_loss = not title.startswith('validation ')
        for run, legend, series in lines:
            steps = sorted(series)
            values = [series[s] for s in steps]
            colour = colours[id(run)]
            if is_loss and smoothing > 0:
                ax.plot(steps, values, color=colour, alpha=0.25, linewidth=1)
                values = smooth(values, smoothing)
            marker = 'o' if not is_loss and len(steps) < 30 else None
            ax.plot(steps, values, color=colour, marker=marker, markersize=3, linewidth=1.5, label=legend)
        values = [v for _, _, series in lines for v in series.values()]
        if is_loss and min(values) > 0 and max(values) > 10 * min(values):
            ax.set_yscale('log')
        ax.set_title(title)
        ax.set_xlabel('iteration')
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize='small')
    for ax in list(axes.flat)[len(content):]:
        ax.set_visible(False)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=100)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', nargs='+', metavar='[LABEL=]PATH',
                        help='experiment folder, tb_logger folder, event file or train_*.log')
    parser.add_argument('-o', '--output', required=True, help='PNG file to write')
    parser.add_argument('--source', choices=('auto', 'tb', 'log'), default='auto',
                        help='read TensorBoard events (tb), the text log (log), or events when present (auto)')
    parser.add_argument('--smooth', type=float, default=0.0, help='EMA weight for loss curves, in [0, 1) (0)')
    parser.add_argument('--columns', type=int, default=3, help='panels per row (3)')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.smooth < 1:
        raise SystemExit(f'--smooth: must be in [0, 1), got {args.smooth}.')
    if args.columns < 1:
        raise SystemExit(f'--columns: must be positive, got {args.columns}.')
    runs = [load_run(spec, args.source) for spec in args.runs]
    plot(runs, Path(args.output), args.smooth, args.columns)
    print(f'Wrote {args.output} ({len(runs)} run(s)).')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
