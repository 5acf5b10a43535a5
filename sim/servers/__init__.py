"""Protocol servers that expose a simulated station (``fuelwatch.sim.state.StationView``)."""
