"""Running the real services locally: Mosquitto and InfluxDB as child processes.

Used by ``fuelwatch demo``, the benchmarks and the test fixtures, so all three run the
project's own configuration files (``broker/*.tmpl``, ``influxdb.conf.tmpl`` here).
"""
