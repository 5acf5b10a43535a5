# fuelwatch server image: the cloud services (and, for the compose `sim` profile, a gateway); the
# command picks the role. EXTRAS: the optional dependency sets on top of the station install —
# `cloud` is the server side, `gm` verifies SM2 (国密) gateways; the grafana-sync tool image adds
# `grafana` (grafana-client, which replaces urllib3 with urllib3-future: kept out of the services'
# image). Every version is pinned by constraints.txt (`./fw lock` refreshes it).
FROM python:3.11-slim
ARG EXTRAS=cloud,postgres,gm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
# src/fuelwatch -> ../fuelwatch, whose links bring in the top-level folders below
COPY src ./src
COPY fuelwatch ./fuelwatch
COPY core ./core
COPY gateway ./gateway
COPY cloud ./cloud
COPY sim ./sim
COPY broker ./broker
COPY firmware_configs ./firmware_configs
# /var/lib/fuelwatch: state (API attachments, the sim gateway's bundle and spool); named
# volumes mounted there start with this owner.
RUN pip install --no-cache-dir -c constraints.txt ".[${EXTRAS}]" && useradd --system fuelwatch \
    && mkdir -p /var/lib/fuelwatch && chown fuelwatch /var/lib/fuelwatch
USER fuelwatch
ENTRYPOINT ["fuelwatch"]
CMD ["--help"]
