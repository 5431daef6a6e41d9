"""``python -m basicsr.archs``: every registered network with its kind, source, licence, parameter count at its
official configuration, input multiple, and whether spandrel (chaiNNer, ComfyUI) loads the files it saves.

``--markdown`` prints the same as a Markdown table; ``--kind sr`` keeps one kind of network.
"""
import argparse
import sys
from typing import Any

import torch
from torch import nn

from basicsr.archs.arch_info import input_multiple_of
from basicsr.utils.registry import ARCH_REGISTRY

COLUMNS = ('network', 'kind', 'source', 'licence', 'parameters', 'input multiple', 'spandrel loads')


def official_network(name: str) -> nn.Module | None:
    """``name`` at its ``official_config`` (built on the meta device where the network allows it, so no memory is
    filled); None for a network registered without one."""
    info = ARCH_REGISTRY.info(name)
    if 'official_config' not in info:
        return None
    cls = ARCH_REGISTRY.get(name)
    try:
        with torch.device('meta'):
            return cls(**info['official_config'])
    except (RuntimeError, NotImplementedError):  # construction reads tensor values (e.g. .item()): build for real
        return cls(**info['official_config'])


def network_row(name: str) -> dict[str, Any]:
    info = ARCH_REGISTRY.info(name)
    net = official_network(name)
    loads = info.get('spandrel_arch')
    return {'network': name, 'kind': info.get('kind', '?'), 'source': info.get('source', 'plug-in'),
            'licence': info.get('licence', '?'),
            'parameters': f'{sum(p.numel() for p in net.parameters()):,d}' if net is not None else '-',
            'input multiple': str(input_multiple_of(net)) if net is not None else '-',
            'spandrel loads': f'yes ({loads})' if loads else 'no'}


def format_table(rows: list[dict[str, Any]], markdown: bool) -> str:
    if markdown:
        lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
        return '\n'.join(lines + ['| ' + ' | '.join(row[c] for c in COLUMNS) + ' |' for row in rows])
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in COLUMNS}
    lines = ['  '.join(c.ljust(widths[c]) for c in COLUMNS)]
    return '\n'.join(lines + ['  '.join(row[c].ljust(widths[c]) for c in COLUMNS) for row in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m basicsr.archs', description=__doc__.split('\n\n')[0])
    parser.add_argument('--kind', help="only networks of this kind ('sr', 'discriminator', ...)")
    parser.add_argument('--markdown', action='store_true', help='print a Markdown table')
    args = parser.parse_args(argv)
    names = [name for name, _ in ARCH_REGISTRY
             if args.kind is None or ARCH_REGISTRY.info(name).get('kind') == args.kind]
    rows = [network_row(name) for name in sorted(names, key=str.lower)]
    print(format_table(rows, args.markdown))
    return 0


if __name__ == '__main__':
    sys.exit(main())
