"""``surgiplan CMD`` registers only CMD's group module (issue 23, speed: start-up of each process).

The table in ``surgiplan.cli.main`` (group modules, and the commands a module registers besides
the one named like it) must say where every command of the whole app lives.
"""

from __future__ import annotations

import subprocess
import sys

from surgiplan.cli.main import GROUPS, build_app, group_of


def _names(app) -> set[str]:
    return {c.name or c.callback.__name__ for c in app.registered_commands} | {g.name for g in app.registered_groups}


def test_every_command_is_found_in_its_own_group():
    from surgiplan.cli.main import app  # the whole tree

    everything = _names(app)
    assert {"segment", "model", "export-dicom-seg", "import-model", "scan", "plan"} <= everything
    for cmd in everything:
        group = group_of([cmd, "--help"])
        assert group in GROUPS, cmd
        assert cmd in _names(build_app((group,))), (cmd, group)
    for group in GROUPS:  # and a group registers nothing the table does not know
        assert all(group_of([c]) == group for c in _names(build_app((group,)))), group


def test_no_command_help_or_unknown_takes_the_whole_app():
    for args in ([], ["--help"], ["--version"], ["nonsense"], ["-x", "segment"]):
        assert group_of(args) is None, args
    assert group_of(["segment", "scan.nrrd"]) == "segment"
    assert group_of(["import-model", "case", "m.stl"]) == "model"


def test_the_entry_point_imports_only_the_group_it_runs():
    code = (
        "import sys\n"
        "from surgiplan.cli.main import run\n"
        "sys.argv = ['surgiplan', 'model', '--help']\n"
        "try:\n    run()\nexcept SystemExit as e:\n    code = e.code\n"
        "mods = sorted(m for m in sys.modules if m.startswith('surgiplan.cli.'))\n"
        "print('MODS', code, ' '.join(mods), 'rich' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "--decimate" in out.stdout, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODS"))
    _, code_, *mods, rich = line.split()
    assert code_ in ("0", "None")
    assert "surgiplan.cli.model" in mods
    assert not {"surgiplan.cli.plan", "surgiplan.cli.segment", "surgiplan.cli.simulate"} & set(mods), mods
