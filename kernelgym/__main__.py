from kernelgym.cli import main

main()
