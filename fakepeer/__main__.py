"""``python -m fakepeer`` runs the same CLI as the ``fakepeer`` script."""

from fakepeer.cli.main import entry_point

entry_point()
