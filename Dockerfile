# ragline in a container: the image behind every ragline service of compose.yaml (API
# replicas, worker, migrations). The same steps as `make setup`, without the dev extra.

FROM node:20-slim AS ui
WORKDIR /build/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build  # into /build/src/ragline/static (vite.config.ts)

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    RAGLINE_DATA_DIR=/data \
    RAGLINE_MODEL_DIR=/models \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
WORKDIR /app
# torch first, the CPU build, so sentence-transformers does not pull a CUDA one (as the Makefile).
RUN pip install --no-cache-dir "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=ui /build/src/ragline/static ./src/ragline/static
RUN pip install --no-cache-dir ".[models]" && ragline models prepare
VOLUME ["/data"]
EXPOSE 8000
# Containers are reached over their network, so auth must be on (RAGLINE_AUTH, see compose.yaml).
CMD ["ragline", "serve", "--host", "0.0.0.0", "--port", "8000"]
