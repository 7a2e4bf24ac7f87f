from kubeplay.cli.main import run

run()
