"""Worker process that decodes compressed DICOM frames for the loader (``python -m`` this module).

Started by :mod:`dicom_pixels` with ``subprocess`` rather than ``multiprocessing`` so
that the caller's main script is never re-imported (multiprocessing's spawn and
forkserver do that, re-running unguarded top-level code of user scripts) and so
it is safe from GUI threads.

Protocol: one task a line on stdin,
``index<TAB>path<TAB>frame<TAB>n_frames<TAB>syntax<TAB>rows<TAB>columns``;
for each, on stdout: ``b"OK"`` + header (index, dtype, rows, cols, nbytes) + the
stored values, or ``b"ER"`` + index + a UTF-8 message.
"""

from __future__ import annotations

import struct
import sys

OK_HEADER = struct.Struct("<2sI8sIIQ")
ER_HEADER = struct.Struct("<2sII")


def main() -> int:
    import numpy as np

    from surgiplan.core.errors import InputError
    from surgiplan.core.imaging.dicom_pixels import decode_frame

    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        parts = line.decode("utf-8", "surrogateescape").rstrip("\n").split("\t")
        if len(parts) != 7:
            continue
        idx = int(parts[0])
        try:
            arr = np.ascontiguousarray(
                decode_frame(
                    parts[1], int(parts[2]), int(parts[3]), parts[4], int(parts[5]), int(parts[6])
                )
            )
            if arr.ndim != 2:
                raise InputError(f"decoded frame has shape {arr.shape}, expected 2D", path=parts[1])
        except InputError as exc:
            msg = str(exc).encode("utf-8")
            out.write(ER_HEADER.pack(b"ER", idx, len(msg)) + msg)
            out.flush()
            continue
        data = arr.tobytes()
        out.write(
            OK_HEADER.pack(
                b"OK", idx, arr.dtype.str.encode(), arr.shape[0], arr.shape[1], len(data)
            )
        )
        out.write(data)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
