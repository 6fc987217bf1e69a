from ponton.cli import main

main()
