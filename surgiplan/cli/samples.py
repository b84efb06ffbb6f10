"""``surgiplan samples``: generate the digital patients (DICOM + ground truth)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("samples")
    def samples(
        names: list[str] = typer.Argument(
            None, help="Samples to generate: hip, knee, spine, vascular, knee_mri (default: all)."
        ),
        out: Path = typer.Option(
            None, "--out", help="Output folder (default: the sample cache, e.g. sample_scans/)."
        ),
        size: str = typer.Option("small", "--size", help="small (seconds, for tests) or full (512 x 512)."),
        overwrite: bool = typer.Option(False, "--overwrite",
                                       help="Generate again a sample that exists but is out of date."),
        postop: bool = typer.Option(False, "--postop",
                                    help="Also the post-operative variant of hip and spine (small): implants at "
                                         "known offsets from its plan.json, metal artefacts, the patient moved."),
    ) -> None:
        """Generate sample scans with their exact ground truth and print where they went.

        A sample that exists and is up to date is kept as it is; one that exists but is out of
        date is replaced only with --overwrite.
        """
        from surgiplan.cli.outputs import check_folder
        from surgiplan.cli.progress import terminal_progress
        from surgiplan.core.samples import SAMPLE_NAMES, generate_sample, samples_root
        from surgiplan.core.samples.generate import SamplePaths, check_name_size, is_current

        chosen = list(names) if names else list(SAMPLE_NAMES)
        for n in chosen:
            check_name_size(n, size)
        target = Path(out) if out is not None else samples_root()
        check_folder(target)  # not inside a case, not a link, not read-only
        for n in chosen:
            paths = SamplePaths(target / f"{n}-{size}")
            if is_current(paths, n):
                typer.echo(f"{n} ({size}): {paths.root} (up to date, kept)")
            else:
                with terminal_progress(f"{n} ({size})") as bar:
                    paths = generate_sample(n, target, size, progress=bar, overwrite=overwrite)
                typer.echo(f"{n} ({size}): {paths.root}")
            n_dcm = len(list(paths.dicom_dir.glob("*.dcm")))
            typer.echo(f"  DICOM series : {paths.dicom_dir} ({n_dcm} files)")
            typer.echo(f"  volume       : {paths.volume}")
            typer.echo(f"  label map    : {paths.labels} (names and colours in {paths.labels_json.name})")
            typer.echo(f"  ground truth : {paths.ground_truth}")
            if postop:
                from surgiplan.cli.samples_postop import write_postop

                write_postop(n, target, overwrite)
