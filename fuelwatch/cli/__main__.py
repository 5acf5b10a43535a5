"""``python -m fuelwatch.cli``: the same as the ``fuelwatch`` command."""

from fuelwatch.cli import main

main()
