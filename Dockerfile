# One image for the API, the flow-serving process and the Prefect server.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY rso ./rso
COPY states ./states
COPY services ./services
COPY workflows ./workflows
COPY notifications ./notifications
COPY migrations ./migrations
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home rso \
    && mkdir -p /var/lib/rso/documents && chown rso /var/lib/rso/documents  # a new volume takes this owner
USER rso
EXPOSE 8000 4200
CMD ["rso", "serve", "--host", "0.0.0.0", "--port", "8000"]
