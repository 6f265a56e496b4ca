# kaigo-flow application image: the API, the worker and the `kaigo` command share it.
FROM python:3.11-slim-bookworm

# WeasyPrint renders notices with Pango; Japanese fonts come from the locked font wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements/bootstrap.lock requirements/main.lock requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/bootstrap.lock \
    && uv pip sync --system --require-hashes requirements/main.lock

COPY . .
RUN uv pip install --system --no-deps . && useradd --system --uid 10001 kaigo
USER kaigo

ENV KAIGO_ENV=production API_HOST=0.0.0.0
EXPOSE 8000
CMD ["kaigo", "api"]
