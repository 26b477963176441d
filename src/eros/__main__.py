from eros.cli import main

main()
