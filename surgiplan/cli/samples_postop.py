"""``surgiplan samples --postop``: the post-operative variants (hip, spine) beside the samples."""

from __future__ import annotations

from pathlib import Path

import typer


def write_postop(name: str, target: Path, overwrite: bool) -> None:
    """Write (or keep, when up to date) ``target/<name>-postop-small`` and print where it went.

    A sample without a post-operative variant is named and skipped; an existing variant of another
    generator version is replaced only with ``overwrite`` (InputError otherwise, nothing written).
    """
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.errors import InputError
    from surgiplan.core.samples.generate import GENERATOR_VERSION
    from surgiplan.core.samples.postop import POSTOP_NAMES, PostopPaths, generate_postop

    if name not in POSTOP_NAMES:
        typer.echo(f"  post-op      : none for {name} (post-operative variants: {', '.join(POSTOP_NAMES)})")
        return
    paths = PostopPaths(Path(target) / f"{name}-postop-small")
    if paths.root.exists():
        try:
            current = paths.is_complete() and paths.load_ground_truth().get("generator_version") == GENERATOR_VERSION
        except InputError:
            current = False
        if current:
            typer.echo(f"  post-op      : {paths.root} (up to date, kept)")
            return
        if not overwrite:
            raise InputError("the post-operative sample exists but is out of date or incomplete", path=paths.root,
                             hint="Add --overwrite to generate it again.")
    with terminal_progress(f"{name} post-op") as bar:
        paths = generate_postop(name, target, progress=bar)
    truth = paths.load_ground_truth()
    typer.echo(f"  post-op      : {paths.root} (small; implants at known offsets from {paths.plan.name}, "
               f"{len(truth.get('implants', {}))} implants)")
    typer.echo(f"    DICOM series : {paths.dicom_dir} ({len(list(paths.dicom_dir.glob('*.dcm')))} files)")
    typer.echo(f"    volume       : {paths.volume}")
    typer.echo(f"    ground truth : {paths.ground_truth} (patient move scan_to_planning, implant offsets)")
