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
def decode_frame(path: str, frame: int, n_frames: int, syntax: str = "") -> np.ndarray:
    """Stored values of one frame through pydicom's decoders (runs in worker processes too)."""
    import pydicom
    from pydicom.pixels import pixel_array

    try:
        deflated = syntax == "1.2.840.10008.1.2.1.99"
        src = pydicom.dcmread(path) if deflated else path  # pixel_array(path) cannot inflate
        arr = pixel_array(src, index=frame if n_frames > 1 else None)
    except Exception as exc:  # decoders raise many types on bad data
        name = _SYNTAX_NAMES.get(syntax, syntax or "unknown transfer syntax")
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot decode the pixel data ({name}): {msg}",
            path=path,
            hint="The file may be damaged, or this compression is not supported.",
        ) from None
    return np.asarray(arr)


def _decode_task(args: tuple[str, int, int, str]) -> np.ndarray | InputError:
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
    todo: dict[int, tuple[str, int, int, str]], progress: Progress | None
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
                "".join(f"{k}\t{t[0]}\t{t[1]}\t{t[2]}\t{t[3]}\n" for k, t in share).encode()
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
        return _decode_task((str(h.path), h.frame, h.n_frames, h.transfer_syntax))


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
        tasks = [
            (str(frames[k].path), frames[k].frame, frames[k].n_frames, frames[k].transfer_syntax)
            for k in coded
        ]
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
