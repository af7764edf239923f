from v2vcli.cli import main

main()
