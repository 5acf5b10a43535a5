# fuelwatch cloud services and gateway, one image; the command picks the role.
# EXTRAS: optional dependency sets; the grafana-sync tool image adds "grafana" (grafana-client,
# which replaces urllib3 with urllib3-future: kept out of the services' image).
FROM python:3.11-slim
ARG EXTRAS=postgres
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY fuelwatch ./fuelwatch
COPY gateway ./gateway
COPY cloud ./cloud
COPY broker ./broker
COPY firmware_configs ./firmware_configs
# /var/lib/fuelwatch: state (API attachments, the sim gateway's bundle and spool); named
# volumes mounted there start with this owner.
RUN pip install --no-cache-dir ".[${EXTRAS}]" && useradd --system fuelwatch \
    && mkdir -p /var/lib/fuelwatch && chown fuelwatch /var/lib/fuelwatch
USER fuelwatch
ENTRYPOINT ["fuelwatch"]
CMD ["--help"]
