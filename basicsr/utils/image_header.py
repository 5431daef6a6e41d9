"""The pixel limit of decoded images, against decompression bombs (a few-megabyte PNG can decode to tens of GB).

The limit is ``DEFAULT_MAX_IMAGE_PIXELS`` unless the environment variable ``BASICSR_MAX_IMAGE_PIXELS`` holds another
pixel count (0: no limit). It is enforced twice:

- by the decoder itself: :func:`configure_decoder_limit` (run by ``import basicsr``, before any module loads OpenCV)
  hands the limit to OpenCV as ``OPENCV_IO_MAX_IMAGE_PIXELS``, which every OpenCV decoder checks against the size
  *it* reads from the header, before allocating. A header that a hand parser would read differently (a TIFF with
  two ImageWidth tags) cannot slip through. OpenCV reads the variable once, when it is loaded: a limit raised
  after the start does not reach it, and a program that imports ``cv2`` before ``basicsr`` keeps OpenCV's own
  limit (about 1 gigapixel) unless it sets the variable itself;
- by :func:`check_pixel_limit`, from the header as read here (PNG, JPEG, BMP, TIFF/BigTIFF, WebP, PBM/PGM/PPM): the
  error names the size, and a limit lowered at run time (:func:`set_max_image_pixels`) holds at once, also in
  dataloader workers, which inherit the environment.
"""
import os
import re
import struct
import sys

from basicsr.utils.errors import DataError, OptionError

DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
MAX_PIXELS_ENV = 'BASICSR_MAX_IMAGE_PIXELS'
OPENCV_PIXELS_ENV = 'OPENCV_IO_MAX_IMAGE_PIXELS'
_NO_LIMIT = 1 << 62  # what OpenCV gets for "0: no limit"
FORMATS = 'PNG, JPEG, BMP, TIFF, WebP, PBM/PGM/PPM'

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): not C4 (DHT), C8 (JPG), CC (DAC)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM and RSTn stand alone
_PNM_HEADER = re.compile(rb'P[1-6](?:\s+|#[^\n]*\n)+?(\d+)(?:\s+|#[^\n]*\n)+?(\d+)')


def image_size(content: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header of an image file's bytes; None for another format or a header cut short."""
    for reader in (_png, _jpeg, _bmp, _tiff, _webp, _pnm):
        try:
            size = reader(content)
        except (struct.error, IndexError, ValueError):
            return None
        if size is not None:
            return size
    return None


def max_image_pixels() -> int:
    """The pixel limit in force (0: none): ``BASICSR_MAX_IMAGE_PIXELS`` or the default of 100 megapixels."""
    value = os.environ.get(MAX_PIXELS_ENV, '').strip()
    if not value:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        limit = int(value.replace('_', ''))
    except ValueError:
        limit = -1
    if limit < 0:
        raise OptionError(f"environment variable {MAX_PIXELS_ENV}: expected a pixel count (0 for no limit), "
                          f"got '{value}'.")
    return limit


def set_max_image_pixels(limit: int) -> None:
    """Set the pixel limit of this process and of the processes it starts from now on (0: no limit)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise OptionError(f'max image pixels: expected a pixel count (0 for no limit), got {limit!r}.')
    os.environ[MAX_PIXELS_ENV] = str(limit)


def configure_decoder_limit() -> None:
    """Give OpenCV's decoders the pixel limit, unless OpenCV is loaded already or the user set its variable."""
    if 'cv2' in sys.modules or OPENCV_PIXELS_ENV in os.environ:
        return
    try:
        limit = max_image_pixels()
    except OptionError:  # reported at the first image read
        limit = DEFAULT_MAX_IMAGE_PIXELS
    os.environ[OPENCV_PIXELS_ENV] = str(limit or _NO_LIMIT)


def is_decoder_size_refusal(err: Exception) -> bool:
    """Whether an OpenCV error is its refusal of the size a header declares."""
    return 'validateInputImageSize' in str(err)


def decoder_refusal(source: str) -> str:
    """The message for an image OpenCV's decoder refused for its declared size."""
    given = os.environ.get(OPENCV_PIXELS_ENV, '').strip()
    limit = f'{int(given) / 1e6:g} megapixels' if given.isdigit() else "OpenCV's own"
    return (f'{source}: its header declares more pixels than the decoder accepts ({limit}, the limit when this '
            'process started); not decoded (a decompression bomb?). To read it, start again with the environment '
            f'variable {MAX_PIXELS_ENV} at least its pixel count (0: no limit).')


def check_pixel_limit(content: bytes, source: str) -> None:
    """Raise DataError naming ``source`` when the header of the encoded image ``content`` is not one of
    :data:`FORMATS` or says it has more pixels than :func:`max_image_pixels`."""
    size = image_size(content)
    if size is None:
        raise DataError(f'{source}: not a readable image (corrupt, truncated or an unsupported format; '
                        f'supported: {FORMATS}).')
    limit = max_image_pixels()
    width, height = size
    if limit and width * height > limit:
        raise DataError(f'{source}: the header says {width}x{height} pixels ({width * height / 1e6:.1f} megapixels), '
                        f'above the limit of {limit / 1e6:g} megapixels; not decoded (a decompression bomb?). To '
                        f'read it, set the environment variable {MAX_PIXELS_ENV} to at least {width * height} '
                        '(0: no limit).')


def _png(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(b'\x89PNG\r\n\x1a\n'):
        return None
    if data[12:16] != b'IHDR':
        raise ValueError('IHDR is not the first chunk')
    return struct.unpack('>II', data[16:24])


def _jpeg(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(b'\xff\xd8'):
        return None
    pos = 2
    while True:
        if data[pos] != 0xFF:
            raise ValueError('not a JPEG marker')
        while data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker in _JPEG_NO_LENGTH:
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            raise ValueError('no frame header')
        (length,) = struct.unpack('>H', data[pos:pos + 2])
        if marker in _JPEG_SOF:
            height, width = struct.unpack('>HH', data[pos + 3:pos + 7])
            return width, height
        pos += length


def _bmp(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(b'BM'):
        return None
    (header_size,) = struct.unpack('<I', data[14:18])
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return struct.unpack('<HH', data[18:22])
    width, height = struct.unpack('<ii', data[18:26])
    return abs(width), abs(height)  # a negative height means rows stored top-down


def _tiff(data: bytes) -> tuple[int, int] | None:
    order = {b'II': '<', b'MM': '>'}.get(data[:2])
    if order is None:
        return None
    (version,) = struct.unpack(order + 'H', data[2:4])
    if version == 42:
        (ifd,) = struct.unpack(order + 'I', data[4:8])
        count_fmt, entry_size, value_at, offset_fmt = 'H', 12, 8, 'I'
    elif version == 43:  # BigTIFF
        (ifd,) = struct.unpack(order + 'Q', data[8:16])
        count_fmt, entry_size, value_at, offset_fmt = 'Q', 20, 12, 'Q'
    else:
        return None
    count_size = struct.calcsize(count_fmt)
    (count,) = struct.unpack(order + count_fmt, data[ifd:ifd + count_size])
    found = {}
    for index in range(count):
        entry = ifd + count_size + index * entry_size
        tag, kind = struct.unpack(order + 'HH', data[entry:entry + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT, LONG or LONG8
            fmt = {3: 'H', 4: 'I', 16: 'Q'}.get(kind)
            if fmt is None:
                raise ValueError('bad TIFF size type')
            value = data[entry + value_at:entry + value_at + struct.calcsize(offset_fmt)]
            (found[tag],) = struct.unpack(order + fmt, value[:struct.calcsize(fmt)])
    if len(found) != 2:
        raise ValueError('TIFF without image size')
    return found[256], found[257]


def _webp(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b'RIFF' or data[8:12] != b'WEBP':
        return None
    chunk = data[12:16]
    if chunk == b'VP8 ':  # lossy: a key frame's start code, then 14-bit sizes
        if data[23:26] != b'\x9d\x01\x2a':
            raise ValueError('bad VP8 frame')
        width, height = struct.unpack('<HH', data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b'VP8L':  # lossless: 14-bit sizes minus one, packed after the signature byte
        if data[20] != 0x2F:
            raise ValueError('bad VP8L signature')
        (bits,) = struct.unpack('<I', data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b'VP8X':  # extended: 24-bit canvas sizes minus one
        width = int.from_bytes(data[24:27], 'little') + 1
        height = int.from_bytes(data[27:30], 'little') + 1
        return width, height
    raise ValueError('unknown WebP chunk')


def _pnm(data: bytes) -> tuple[int, int] | None:
    if len(data) < 2 or data[0] != ord('P') or data[1] not in b'123456':
        return None
    match = _PNM_HEADER.match(data[:1024])
    if match is None:
        raise ValueError('bad PNM header')
    return int(match[1]), int(match[2])
