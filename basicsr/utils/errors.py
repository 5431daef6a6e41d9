"""The project's own error types: each message names what was expected, what was found and where."""


class BasicSRError(Exception):
    """Base class of every error this project raises on purpose."""


class OptionError(BasicSRError, ValueError):
    """An option file or command-line override is invalid; the message names the key path (and file line).

    ``key_path`` (dotted, e.g. ``datasets.train.gt_size``) lets the option parser add the file and line.
    """

    def __init__(self, message: str, key_path: str | None = None) -> None:
        super().__init__(message)
        self.key_path = key_path


class OptionErrors(OptionError):
    """Several option errors found in one pass: the message lists each on its own line."""

    def __init__(self, errors: list[OptionError], note: str = '') -> None:
        self.errors = list(errors)
        note = f'\n{note}' if note else ''
        if len(self.errors) == 1:
            super().__init__(f'{self.errors[0]}{note}', self.errors[0].key_path)
        else:
            listed = '\n'.join(f'  {i}. {err}' for i, err in enumerate(self.errors, 1))
            super().__init__(f'{len(self.errors)} problems in the options:\n{listed}{note}')


class DataError(BasicSRError, ValueError):
    """An image, folder, LMDB or meta-info file cannot be used; the message names the file."""


class ShapeMismatchError(DataError, AssertionError):
    """Two images that must have the same shape do not. Also an AssertionError, which BasicSR raises there."""


class UnsupportedSizeError(OptionError, AssertionError):
    """A network cannot be built for the size an option asks for (e.g. a discriminator's ``input_size``). Also an
    AssertionError, which BasicSR raises there."""


class CheckpointError(BasicSRError, ValueError):
    """A checkpoint or training state cannot be loaded; the message names the file."""


class TrainingError(BasicSRError, RuntimeError):
    """Training cannot go on (e.g. too many non-finite steps in a row)."""


class DownloadError(BasicSRError, RuntimeError):
    """A file cannot be downloaded or fails its check; the message names the URL and where the file belongs."""


class RunLockError(BasicSRError, RuntimeError):
    """An experiment or results folder is in use by another run; the message names that process."""


class TrainingInterrupted(BasicSRError):
    """Training stopped by Ctrl-C after a step; the message says how to continue."""
