from surgiplan.cli.main import run

run()
