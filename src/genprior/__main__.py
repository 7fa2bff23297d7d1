from genprior.cli import main

main()
