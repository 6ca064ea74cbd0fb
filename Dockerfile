# Image for the worker and web services of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hotline hotline
COPY classifiers classifiers
COPY intake intake
COPY stores stores
COPY streams streams
COPY webapp webapp
COPY cli cli
COPY config config
COPY samples samples
RUN pip install --no-cache-dir -e .
ENV HOTLINE_HOME=/data/home
VOLUME ["/data"]
ENTRYPOINT ["hotline"]
