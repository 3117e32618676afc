# The monitor daemon image: the package installed from this checkout, state in /app/state (a volume).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir . && useradd --system --home /app monitor && mkdir -p /app/state && chown monitor /app/state
COPY config ./config
USER monitor
ENV MONITOR_CONFIG=/app/config/monitor.toml
ENTRYPOINT ["monitor"]
CMD ["run", "--log-format", "json"]
