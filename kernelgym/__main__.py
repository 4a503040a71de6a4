from kernelgym.cli import app

app(prog_name="kernelgym")
