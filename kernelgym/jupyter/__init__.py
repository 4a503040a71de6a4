"""kernelgym's plug-ins into Jupyter's own tools: the fork-server kernel provisioner (jupyter_client),
the papermill engine, and the host channel that answers starter notebooks a person runs."""
