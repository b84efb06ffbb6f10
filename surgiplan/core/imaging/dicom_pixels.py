"""Pixel values of DICOM frames, read into one preallocated [k, j, i] array.

Three paths:

* **uncompressed** (Implicit/Explicit VR Little Endian, Explicit Big Endian):
  one ``seek`` + ``readinto`` per frame at the offset found by the header pass,
  straight into the output array (no per-file pydicom parse, no copies), by
  one thread per core for long series (the reads release the GIL); the output
  sits on 4 KiB pages (:func:`empty_output`);
* **JPEG 2000** (monochrome single-frame files, the usual CT/MR export):
  imagecodecs' OpenJPEG decoder, which releases the GIL, in a thread pool of
  one thread per core (:mod:`dicom_j2k`; same values as pydicom's decoder);
* **everything else** (JPEG baseline/lossless, JPEG-LS, RLE, deflate, other
  JPEG 2000 layouts, ...): pydicom's decoders with the pylibjpeg / pyjpegls
  plugins. These hold the GIL, so long compressed series are decoded in worker
  processes on all cores (threads were measured: no gain). The workers are
  plain ``python -m`` children fed through pipes, not multiprocessing (which
  re-imports the caller's main script).

Rescale (slope/intercept) is applied per frame. CT becomes int16 HU when the
rescale is exact and fits, otherwise float32 (see :func:`output_plan`).
"""

from __future__ import annotations

import mmap
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.dicom_headers import NATIVE_SYNTAXES, FrameHeader
from surgiplan.core.imaging.dicom_j2k import decode_j2k_frame, fast_j2k
from surgiplan.core.jobs import Progress, check_cancelled, report

#: transfer syntaxes whose decoding is cheap: not worth starting worker processes for
_SYNTAX_NAMES = {
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE Lossless",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
}


#: share of the memory available now that one load may plan to use
MEMORY_SHARE = 0.8


def memory_budget() -> int:
    """Bytes a load may allocate: ``MEMORY_SHARE`` of the memory available right now."""
    import psutil

    return int(psutil.virtual_memory().available * MEMORY_SHARE)


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.1f} MiB"


def check_memory(need: int, what: str, path=None) -> None:
    """InputError (before anything is allocated) when ``need`` bytes exceed :func:`memory_budget`.

    ``what`` says what would be built (e.g. "a 512 x 512 x 900 int16 volume"); the
    message names it, the path and both sizes, so that a header that lies about its size
    is recognisable as such.
    """
    budget = memory_budget()
    if need > budget:
        raise InputError(
            f"loading needs about {_gib(need)} of memory for {what}, more than the "
            f"{_gib(budget)} available",
            path=path,
            hint="Close other programs or use a machine with more memory; if the size is "
            "absurd for this scan, its header is damaged.",
        )


class _Overflow(Exception):
    """A frame's rescaled values do not fit the planned integer type."""


@dataclass(frozen=True)
class OutputPlan:
    """Output dtype and how each frame is rescaled into it."""

    dtype: np.dtype
    rescale: bool  # apply slope/intercept per frame
    note: str = ""


def output_plan(frames: list[FrameHeader]) -> OutputPlan:
    """Choose the output dtype: stored type when no rescale, int16 for exact integer rescale
    that fits, float32 otherwise (or for float pixel data)."""
    h = frames[0]
    stored = h.stored_dtype
    if stored.kind == "f":
        return OutputPlan(np.dtype(np.float32), True)
    slopes = {f.slope for f in frames}
    inters = {f.intercept for f in frames}
    if slopes == {1.0} and all(float(i).is_integer() for i in inters):
        if inters == {0.0}:
            return OutputPlan(stored, False)
        bs = min(h.bits_stored, h.bits_allocated)
        lo = -(2 ** (bs - 1)) if h.pixel_representation == 1 else 0
        hi = 2 ** (bs - 1) - 1 if h.pixel_representation == 1 else 2**bs - 1
        lo += min(inters)
        hi += max(inters)
        if h.modality == "CT" or (lo >= -32768 and hi <= 32767):
            # CT: int16 unless an actual value overflows (checked per frame)
            return OutputPlan(np.dtype(np.int16), True)
    return OutputPlan(np.dtype(np.float32), True)


def _sign_fix(a: np.ndarray, h: FrameHeader) -> np.ndarray:
    """Sign-extend signed values stored in fewer bits than allocated (as pydicom does)."""
    if h.pixel_representation == 1 and a.dtype.kind == "i" and h.bits_stored < h.bits_allocated:
        shift = h.bits_allocated - h.bits_stored
        np.left_shift(a, shift, out=a)
        np.right_shift(a, shift, out=a)
    return a


def _int16_safe(h: FrameHeader) -> bool:
    """True when every storable value of ``h`` plus its integer intercept fits int16
    (then stored bits can be read straight into the int16 output and shifted in place)."""
    if h.stored_dtype.itemsize != 2 or h.slope != 1.0 or not float(h.intercept).is_integer():
        return False
    bs = min(h.bits_stored, 16)
    lo, hi = (
        (-(2 ** (bs - 1)), 2 ** (bs - 1) - 1) if h.pixel_representation == 1 else (0, 2**bs - 1)
    )
    return (
        h.pixel_representation == 1
        or bs <= 15
        and (-32768 <= lo + h.intercept and hi + h.intercept <= 32767)
    )


def _signed_fits(h: FrameHeader) -> bool:
    bs = min(h.bits_stored, 16)
    return -(2 ** (bs - 1)) + h.intercept >= -32768 and 2 ** (bs - 1) - 1 + h.intercept <= 32767


def _store(dst: np.ndarray, src: np.ndarray, h: FrameHeader, plan: OutputPlan) -> None:
    """Write stored values ``src`` (one frame) into ``dst`` applying the rescale."""
    if not plan.rescale:
        dst[...] = src
        return
    if plan.dtype == np.int16:
        inter = int(h.intercept)
        if src.dtype.itemsize <= 2 and src.dtype.kind in "iu":
            mn, mx = int(src.min()), int(src.max())
        else:
            mn, mx = int(np.min(src)), int(np.max(src))
        if mn + inter < -32768 or mx + inter > 32767:
            raise _Overflow()
        np.add(src, np.int32(inter), out=dst, casting="unsafe", dtype=np.int32)
        return
    if h.slope == 1.0:
        np.add(src, np.float32(h.intercept), out=dst, casting="unsafe", dtype=np.float32)
    else:
        np.multiply(src, np.float64(h.slope), out=dst, casting="unsafe", dtype=np.float64)
        dst += np.float32(h.intercept)


# --------------------------------------------------------------------------- native
def read_native_frame(h: FrameHeader, buf: np.ndarray) -> np.ndarray:
    """Read one uncompressed frame's stored values into ``buf`` (2D, stored dtype)."""
    start = h.pixel_value_offset + h.frame * h.frame_nbytes
    try:
        with open(h.path, "rb", buffering=0) as f:
            f.seek(start)
            n = f.readinto(memoryview(buf).cast("B"))
    except OSError as exc:
        raise InputError(f"cannot read the pixel data ({exc.strerror})", path=h.path) from None
    if n != buf.nbytes:
        raise InputError(
            f"the file is truncated: frame {h.frame} needs {buf.nbytes} bytes of pixel data, "
            f"only {n} are there",
            path=h.path,
        )
    if NATIVE_SYNTAXES[h.transfer_syntax][1] == ">" and buf.dtype.itemsize > 1:
        buf.byteswap(inplace=True)
    return _sign_fix(buf, h)


#: arrays above this size get small pages (see :func:`empty_output`)
_SMALL_PAGES_ABOVE = 32 << 20


def empty_output(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``; big arrays on Linux are backed by 4 KiB pages.

    numpy asks for transparent huge pages for big arrays. On this kind of machine (a
    VM, THP on madvise) faulting in a fresh 315 MB int16 volume took 0.06-1.9 s with
    huge pages (bimodal from run to run) and a steady 0.18-0.35 s with 4 KiB pages, so
    the volume is an anonymous private mapping with ``MADV_NOHUGEPAGE`` (an ordinary
    writable ndarray whose base is the mapping; freed with the last view).
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
    if nbytes < _SMALL_PAGES_ABOVE or not hasattr(mmap, "MADV_NOHUGEPAGE") or not flags:
        return np.empty(shape, dtype=dtype)
    try:
        buf = mmap.mmap(-1, nbytes, flags=flags)
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    except (OSError, ValueError):
        return np.empty(shape, dtype=dtype)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


#: frames per task of the threaded uncompressed reader, and the fewest frames worth threads
_NATIVE_BLOCK = 8
_NATIVE_THREADS_ABOVE = 32


def read_native_frames(
    ks: list[int], read_one, shape: tuple[int, int], dtype: np.dtype, progress: Progress | None
) -> Iterator[tuple[int, InputError | None]]:
    """Run ``read_one(k, scratch)`` for every k of ``ks``; yields (k, its error or None) in order.

    With two or more cores and more than a few frames the reads run in a thread
    pool (one thread per core, blocks of consecutive frames): ``readinto`` and the
    in-place numpy ops release the GIL, so the copies out of the page cache and
    the page faults of the fresh output array are spread over the cores.
    Cancellation is checked between blocks (pending blocks are dropped).
    """
    n = _workers()
    if n < 2 or len(ks) < _NATIVE_THREADS_ABOVE:
        scratch = np.empty(shape, dtype=dtype)
        for k in ks:
            yield k, read_one(k, scratch)
        return
    local = threading.local()

    def block(part: list[int]) -> list[tuple[int, InputError | None]]:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = np.empty(shape, dtype=dtype)
        return [(k, read_one(k, scratch)) for k in part]

    parts = [ks[i : i + _NATIVE_BLOCK] for i in range(0, len(ks), _NATIVE_BLOCK)]
    with ThreadPoolExecutor(n, thread_name_prefix="surgiplan-read") as pool:
        futures = [pool.submit(block, part) for part in parts]
        try:
            for fut in futures:
                check_cancelled(progress)
                yield from fut.result()
        finally:
            for fut in futures:
                fut.cancel()


# --------------------------------------------------------------------------- compressed
_JPEG_SYNTAXES = {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
}
_J2K_SYNTAXES = {
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
}
_RLE_SYNTAX = "1.2.840.10008.1.2.5"


_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def _jp2_inner(code: bytes, path) -> bytes:
    """The raw codestream inside a JP2 wrapper (``code`` itself when not wrapped).

    Walks the boxes with every length checked: pydicom 3.0's ``get_j2k_parameters``
    loops forever on a box of length 0 before the codestream box, so a damaged or
    hostile wrapper is refused here, before any pydicom decoder sees it.
    """
    if not code.startswith(_JP2_SIGNATURE):
        return code
    offset = 12
    while offset + 8 <= len(code):
        length = int.from_bytes(code[offset : offset + 4], "big")
        kind = code[offset + 4 : offset + 8]
        if kind == b"jp2c":
            return code[offset + 8 :]
        if length == 1 and offset + 16 <= len(code):  # 64-bit box length
            length = int.from_bytes(code[offset + 8 : offset + 16], "big")
        if length < 8:
            break
        offset += length
    raise InputError(
        "the JPEG 2000 (JP2) wrapper of the pixel data is damaged (a box length is wrong or "
        "the codestream box is missing)",
        path=path,
        hint="The file is damaged; re-export it from the scanner or PACS.",
    )


def codestream_size(code: bytes, syntax: str) -> tuple[int, int] | None:
    """(rows, columns) a compressed frame declares in its own header; None when not known.

    JPEG and JPEG-LS: the SOF segment; JPEG 2000 / HTJ2K: the SIZ segment of a raw
    codestream (Xsiz - XOsiz, Ysiz - YOsiz).
    """
    try:
        if syntax in _JPEG_SYNTAXES:
            from pydicom.pixels.utils import _get_jpg_parameters

            info = _get_jpg_parameters(code)
            if "height" in info and "width" in info:
                return int(info["height"]), int(info["width"])
            return None
        if syntax in _J2K_SYNTAXES and code[:4] == b"\xff\x4f\xff\x51" and len(code) >= 24:
            xsiz, ysiz, xo, yo = struct.unpack(">IIII", code[8:24])
            return ysiz - yo, xsiz - xo
    except (ImportError, IndexError, ValueError, struct.error, TypeError):
        return None
    return None


def check_codestream(code: bytes, syntax: str, rows: int, cols: int, path) -> None:
    """InputError, before decoding, when a compressed frame cannot be Rows x Columns.

    Decoders size their output from the DICOM header: Rows/Columns that lie (65535 x
    65535 in a 4 KB file) would make them allocate gigabytes before failing. The frame's
    own header (JPEG SOF, JPEG 2000 SIZ) must agree; RLE, whose runs expand at most
    64-fold (a 2-byte run gives 128 bytes), must be long enough for Rows x Columns.
    """
    if syntax in _J2K_SYNTAXES:
        code = _jp2_inner(code, path)
    size = codestream_size(code, syntax)
    if size is not None and size != (rows, cols):
        raise InputError(
            f"the header says {cols} x {rows} pixels but the compressed frame holds "
            f"{size[1]} x {size[0]} (header and pixels disagree)",
            path=path,
            hint="The file is damaged; re-export it from the scanner or PACS.",
        )
    if syntax == _RLE_SYNTAX and len(code) >= 64:
        n_seg = struct.unpack("<I", code[:4])[0]
        offsets = struct.unpack("<15I", code[4:64])[: max(min(n_seg, 15), 0)]
        bounds = sorted(o for o in offsets if 64 <= o <= len(code)) + [len(code)]
        longest = max((b - a for a, b in zip(bounds, bounds[1:], strict=False)), default=0)
        if rows * cols > 64 * longest + 128:
            raise InputError(
                f"the header says {cols} x {rows} pixels but the RLE data ({len(code)} bytes) "
                "can hold far fewer (header and pixels disagree)",
                path=path,
                hint="The file is damaged; re-export it from the scanner or PACS.",
            )


def _first_frame_bytes(path: str, frame: int, n_frames: int) -> bytes | None:
    """The compressed bytes of one frame of an encapsulated file (None when not found)."""
    import pydicom
    from pydicom.encaps import get_frame

    with open(path, "rb") as fp:
        ds = pydicom.dcmread(fp, stop_before_pixels=True)
        head = fp.read(12)
        if len(head) < 12 or head[:4] != b"\xe0\x7f\x10\x00":
            return None
        del ds
        return get_frame(fp, frame, number_of_frames=n_frames)


def decode_frame(
    path: str, frame: int, n_frames: int, syntax: str = "", rows: int = 0, cols: int = 0
) -> np.ndarray:
    """Stored values of one frame through pydicom's decoders (runs in worker processes too).

    With ``rows``/``cols`` given, the compressed frame's own size is checked against them
    first (:func:`check_codestream`), so that a lying header is refused before any decoder
    allocates from it.
    """
    import pydicom
    from pydicom.pixels import pixel_array

    try:
        deflated = syntax == "1.2.840.10008.1.2.1.99"
        if rows and cols and not deflated and syntax not in NATIVE_SYNTAXES:
            code = _first_frame_bytes(path, frame, n_frames)
            if code is not None:
                check_codestream(code, syntax, rows, cols, path)
        src = pydicom.dcmread(path) if deflated else path  # pixel_array(path) cannot inflate
        arr = pixel_array(src, index=frame if n_frames > 1 else None)
    except InputError:
        raise
    except Exception as exc:  # decoders raise many types on bad data
        name = _SYNTAX_NAMES.get(syntax, syntax or "unknown transfer syntax")
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot decode the pixel data ({name}): {msg}",
            path=path,
            hint="The file may be damaged, or this compression is not supported.",
        ) from None
    return np.asarray(arr)


def _task(h: FrameHeader) -> tuple[str, int, int, str, int, int]:
    """What a decoder (here or in a worker process) needs to decode frame ``h``."""
    return (str(h.path), h.frame, h.n_frames, h.transfer_syntax, h.rows, h.cols)


def _decode_task(args: tuple[str, int, int, str, int, int]) -> np.ndarray | InputError:
    try:
        return decode_frame(*args)
    except InputError as exc:
        return exc


def _workers() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


#: rough single-core decode rates (compressed MB/s) and per-file overhead (s), measured here
_DECODE_MB_PER_S = {"1.2.840.10008.1.2.5": 50.0, "1.2.840.10008.1.2.1.99": 100.0}
_DEFAULT_MB_PER_S = 5.0  # JPEG 2000 / JPEG-LS / JPEG
_PER_FILE_S = 0.004
#: start-up of the worker processes (imports) is about 1 s: only worth it above this
_PARALLEL_ABOVE_S = 2.5
#: openjpeg threads inside each worker process (OPJ_NUM_THREADS)
_OPJ_THREADS = "1"


def estimated_decode_seconds(frames: list[FrameHeader]) -> float:
    """Serial decode time estimate of the compressed frames (file sizes x codec rate)."""
    total = 0.0
    for f in {f.path: f for f in frames if not f.is_native}.values():
        try:
            size_mb = f.path.stat().st_size / 1e6
        except OSError:
            size_mb = 0.0
        rate = _DECODE_MB_PER_S.get(f.transfer_syntax, _DEFAULT_MB_PER_S)
        total += _PER_FILE_S + size_mb / rate
    return total


def _use_processes(frames: list[FrameHeader]) -> bool:
    if _workers() < 2:
        return False
    return estimated_decode_seconds(frames) > _PARALLEL_ABOVE_S


def decode_in_workers(
    todo: dict[int, tuple[str, int, int, str, int, int]], progress: Progress | None
) -> Iterator[tuple[int, np.ndarray | InputError]]:
    """Decode ``todo`` (index -> task) in worker processes; yields (index, array or error).

    Workers are ``python -m surgiplan.core.imaging.dicom_decode_worker`` children (one per
    core but one: this process decodes its share too while it waits, which also covers
    the workers' start-up); results come back through pipes and are yielded in the
    calling thread.
    A worker that dies simply leaves its tasks unyielded (the caller decodes them).
    Raises Cancelled (after stopping the workers) when the user cancels.
    """
    from surgiplan.core.imaging.dicom_decode_worker import ER_HEADER, OK_HEADER

    n = max(min(_workers(), len(todo)) - 1, 1)  # worker processes; this process decodes too
    items = list(todo.items())
    local = items[n :: n + 1][::-1]  # this process's share (popped from the end)
    results: queue.Queue = queue.Queue(maxsize=64)
    procs: list[subprocess.Popen] = []
    env = dict(os.environ, OPJ_NUM_THREADS=_OPJ_THREADS, PYTHONWARNINGS="ignore")

    def pump(proc: subprocess.Popen, share: list) -> None:
        try:
            proc.stdin.write(
                "".join("\t".join(map(str, (k, *t))) + "\n" for k, t in share).encode(
                    "utf-8", "surrogateescape"
                )
            )
            proc.stdin.close()
            rd = proc.stdout
            while True:
                head = rd.read(2)
                if len(head) < 2:
                    break
                if head == b"OK":
                    _, idx, dt, rows, cols, nbytes = OK_HEADER.unpack(
                        head + rd.read(OK_HEADER.size - 2)
                    )
                    data = rd.read(nbytes)
                    if len(data) < nbytes:
                        break
                    arr = np.frombuffer(data, dtype=np.dtype(dt.rstrip(b"\x00").decode())).reshape(
                        rows, cols
                    )
                    results.put((idx, arr))
                else:
                    _, idx, length = ER_HEADER.unpack(head + rd.read(ER_HEADER.size - 2))
                    msg = rd.read(length).decode("utf-8", "replace")
                    results.put((idx, InputError(msg)))
        except (OSError, ValueError, struct.error):
            pass
        finally:
            results.put(None)

    threads = []
    try:
        for w in range(n):
            proc = subprocess.Popen(
                [sys.executable, "-m", "surgiplan.core.imaging.dicom_decode_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            procs.append(proc)
            th = threading.Thread(target=pump, args=(proc, items[w :: n + 1]), daemon=True)
            th.start()
            threads.append(th)
        finished = 0
        while finished < n or local:
            check_cancelled(progress)
            try:
                item = results.get_nowait() if local else results.get(timeout=0.2)
            except queue.Empty:
                if local:  # nothing from the workers right now: decode one here
                    k, task = local.pop()
                    yield k, _decode_task(task)
                continue
            if item is None:
                finished += 1
                continue
            yield item
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for f in (proc.stdout, proc.stdin):
                if f and not f.closed:
                    f.close()
        for th in threads:
            th.join(timeout=1.0)


def _decode_j2k_task(h: FrameHeader) -> np.ndarray | InputError:
    """One JPEG 2000 frame via imagecodecs; pydicom's decoder (and its message) if that fails."""
    try:
        return decode_j2k_frame(h)
    except InputError:
        return _decode_task(_task(h))


def decode_in_threads(
    items: list[tuple[int, FrameHeader]], progress: Progress | None
) -> Iterator[tuple[int, np.ndarray | InputError]]:
    """Decode JPEG 2000 frames (``fast_j2k``) in a thread pool, one thread per core.

    Yields (index, stored values or InputError) as frames finish, in the calling
    thread; at most a few frames per thread are in flight (bounded memory). Raises
    Cancelled (after the running frames finish, pending ones dropped) on cancel.
    """
    n = max(min(_workers(), len(items)), 1)
    todo = iter(items)
    pending: dict = {}
    with ThreadPoolExecutor(n, thread_name_prefix="surgiplan-j2k") as pool:
        try:
            while True:
                while len(pending) < 3 * n:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    pending[pool.submit(_decode_j2k_task, nxt[1])] = nxt[0]
                if not pending:
                    return
                check_cancelled(progress)
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield pending.pop(fut), fut.result()
        finally:
            for fut in pending:
                fut.cancel()


# --------------------------------------------------------------------------- all frames
def read_frames(
    frames: list[FrameHeader],
    progress: Progress | None = None,
    errors: list[InputError] | None = None,
    plan: OutputPlan | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Pixel values of ``frames`` as one [k, j, i] array (output dtype by :func:`output_plan`).

    Frames that cannot be read are appended to ``errors`` (when given; otherwise the
    first error is raised) and left out; the second return value lists the indices
    of the frames that were read. Raises InputError if none could be read.
    """
    plan = plan or output_plan(frames)
    try:
        return _read_frames(frames, plan, progress, errors)
    except _Overflow:
        return _read_frames(frames, OutputPlan(np.dtype(np.float32), True), progress, errors)


def _read_frames(frames, plan: OutputPlan, progress, errors) -> tuple[np.ndarray, list[int]]:
    h0 = frames[0]
    nk = len(frames)
    out = empty_output((nk, h0.rows, h0.cols), plan.dtype)
    ok = np.zeros(nk, dtype=bool)
    direct = not plan.rescale and plan.dtype == h0.stored_dtype
    n_done = 0

    def failed(exc: InputError) -> None:
        if errors is None:
            raise exc
        errors.append(exc)

    coded = [k for k, h in enumerate(frames) if not h.is_native]
    native = [k for k, h in enumerate(frames) if h.is_native]
    fast_ct = plan.dtype == np.int16 and plan.rescale

    def read_one(k: int, scratch: np.ndarray) -> InputError | None:
        """Frame k into out[k] (GIL released in the read and the numpy ops)."""
        h = frames[k]
        if (h.rows, h.cols) != (h0.rows, h0.cols):
            return InputError(
                f"matrix {h.cols} x {h.rows} differs from the series' {h0.cols} x {h0.rows}",
                path=h.path,
            )
        try:
            if direct and h.stored_dtype == out.dtype:
                read_native_frame(h, out[k])
            elif fast_ct and _int16_safe(h) and (h.pixel_representation == 0 or _signed_fits(h)):
                # CT: stored bits straight into the output, then the intercept in place
                read_native_frame(h, out[k].view(h.stored_dtype))
                if h.intercept:
                    out[k] += np.int16(h.intercept)
            else:
                _store(out[k], read_native_frame(h, scratch), h, plan)
        except InputError as exc:
            return exc
        ok[k] = True
        return None

    for _k, exc in read_native_frames(
        native, read_one, (h0.rows, h0.cols), h0.stored_dtype, progress
    ):
        if exc is not None:
            failed(exc)
        n_done += 1
        if n_done % 16 == 0:
            report(progress, n_done / nk, f"reading slice {n_done}/{nk}")

    def accept(k: int, res) -> None:
        h = frames[k]
        if isinstance(res, InputError):
            failed(res)
            return
        if res.ndim != 2 or res.shape != (h0.rows, h0.cols):
            failed(
                InputError(
                    f"decoded frame {h.frame} has shape {res.shape}, expected {(h0.rows, h0.cols)} "
                    "(colour or inconsistent header)",
                    path=h.path,
                )
            )
            return
        _store(out[k], _sign_fix(res, h) if res.dtype.kind == "i" else res, h, plan)
        ok[k] = True

    j2k = [k for k in coded if fast_j2k(frames[k])]
    if j2k:
        if len(j2k) > 1 and _workers() > 1:
            decoded = decode_in_threads([(k, frames[k]) for k in j2k], progress)
        else:
            decoded = ((k, _decode_j2k_task(frames[k])) for k in j2k)
        for k, res in decoded:
            accept(k, res)
            n_done += 1
            if n_done % 8 == 0:
                report(progress, n_done / nk, f"decoding slice {n_done}/{nk}")
        in_j2k = set(j2k)
        coded = [k for k in coded if k not in in_j2k]
    if coded:
        tasks = [_task(frames[k]) for k in coded]
        if _use_processes([frames[k] for k in coded]):
            todo = dict(zip(coded, tasks, strict=True))
            for k, res in decode_in_workers(todo, progress):
                accept(k, res)
                todo.pop(k, None)
                n_done += 1
                if n_done % 8 == 0:
                    report(progress, n_done / nk, f"decoding slice {n_done}/{nk}")
            coded = list(todo)  # whatever a crashed worker left: decode here
            tasks = [todo[k] for k in coded]
        if coded:
            for k, t in zip(coded, tasks, strict=True):
                accept(k, _decode_task(t))
                n_done += 1
                if n_done % 8 == 0:
                    report(progress, n_done / nk, f"decoding slice {n_done}/{nk}")
    kept = [int(k) for k in np.flatnonzero(ok)]
    if not kept:
        raise (errors[-1] if errors else InputError("no slice could be read", path=h0.path))
    if len(kept) < nk:
        out = out[kept]  # copy only in the rare partial case
    return out, kept
