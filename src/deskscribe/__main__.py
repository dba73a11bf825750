from deskscribe.cli import main

main()
