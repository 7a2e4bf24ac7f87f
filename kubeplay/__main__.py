from kubeplay.cli.main import main

main()
