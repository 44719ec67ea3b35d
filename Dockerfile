# The kubetfx image: every task of the compiled Kubeflow pipeline runs in it.
#
#   DOCKER_BUILDKIT=1 docker build -t kubetfx:0.1.0 .          # TFX 1.21, Debian 13
#   DOCKER_BUILDKIT=1 docker build --build-arg STACK=1.16 \
#     --build-arg BASE_IMAGE=python:3.10.13-slim-bookworm -t kubetfx:0.1.0-tfx1.16 .
#
# STACK picks the lock (stacks/STACK/requirements-image.lock). The 1.21 stack
# runs on Debian 13's own Python 3.13: BASE_IMAGE is debian:trixie-slim (or a
# Debian 13 with python3 installed). The 1.16 stack needs Python 3.10 at
# /usr/local/bin/python3.10, as python:3.10-slim-bookworm has it. Pin the base
# by digest for reproducible builds (BASE_IMAGE=debian:trixie-slim@sha256:...).
# `--target test` adds the test tools and the test suite (make test-container).
ARG STACK=1.21
ARG BASE_IMAGE=debian:trixie-slim

# checkov:skip=CKV_DOCKER_7: the base is a build argument; its default names an exact Debian release
# checkov:skip=CKV_DOCKER_2: pipeline tasks run to completion; there is no service to health-check
FROM ${BASE_IMAGE} AS build
ARG STACK
# g++ (and on Debian's Python its headers) builds the few locked packages that ship
# only as source (pyfarmhash, ...). They stay in this stage, so their exact
# versions, which the base decides, never ship.
# hadolint ignore=DL3008
RUN apt-get update \
 && if [ "$STACK" = 1.16 ]; then apt-get install -y --no-install-recommends g++; \
    else apt-get install -y --no-install-recommends g++ python3 python3-venv python3-dev; fi \
 && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/kubetfx PATH=/opt/kubetfx/bin:$PATH
WORKDIR /src
# The tasks' share of the stack's requirements.lock (make lock): MLflow's client
# alone, no test tools.
COPY stacks/${STACK}/requirements-image.lock ./
# An optional CA bundle (build secret "ca") for builds behind a TLS-intercepting proxy.
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca PIP_CERT=/run/secrets/ca; fi \
 && if [ "$STACK" = 1.16 ]; then python=python3.10; else python=python3; fi \
 && "$python" -m venv /opt/kubetfx \
 && pip install --no-cache-dir --disable-pip-version-check uv==0.13.9 \
 && uv pip sync --no-cache --python /opt/kubetfx/bin/python requirements-image.lock \
 # The CPU build of TensorFlow: the same module without the GPU kernels.
 && tf=$(/opt/kubetfx/bin/python -c 'import importlib.metadata as m; print(m.version("tensorflow"))') \
 && uv pip uninstall --python /opt/kubetfx/bin/python tensorflow \
 && uv pip install --no-cache --no-deps --python /opt/kubetfx/bin/python "tensorflow-cpu==$tf" \
 # Notebook front ends and libclang come with TFMA and TensorFlow; no task uses them.
 && uv pip uninstall --python /opt/kubetfx/bin/python libclang jupyterlab notebook \
 && rm -rf /opt/kubetfx/share/jupyter
COPY setup.py README.md ./
COPY api api
COPY components components
COPY pipelines pipelines
COPY projects projects
COPY kubernetes kubernetes
# Built with the locked setuptools, offline.
RUN uv pip install --no-cache --no-deps --no-build-isolation --python /opt/kubetfx/bin/python . \
 # Nothing a task needs: test suites, C headers, static libraries, tooling.
 && site=$(/opt/kubetfx/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && rm -rf "$site"/tensorflow/include "$site"/pyarrow/include "$site"/ruff* "$site"/pytest* \
      "$site"/_pytest "$site"/uv* \
 && find "$site" -mindepth 2 -depth -type d -name tests \
      -not -path "$site/tensorflow/*" -not -path "$site/numpy/*" -not -path "$site/pandas/*" \
      -exec rm -rf {} + \
 && find "$site" \( -name "*.a" -o -name "*.pyx" -o -name "*.pxd" \) -delete \
 # Packages no task imports: uv, TensorBoard's server binary, what only
 # notebook front ends and JavaScript-backed Beam features load, and Vertex AI's
 # client (TFX's Google Cloud extensions, which kubetfx does not use).
 && uv pip uninstall --python /opt/kubetfx/bin/python babel js2py tensorboard-data-server \
      jedi google-cloud-aiplatform \
 && rm -f /opt/kubetfx/bin/uv /opt/kubetfx/bin/uvx \
 # Shared libraries without their symbol tables and debug sections (the symbols
 # other libraries link against stay). The *.libs folders hold auditwheel's
 # relocated copies, which are left as they are.
 && find "$site" -name "*.so*" -type f -not -path "*.libs/*" -exec strip --strip-unneeded {} +
# Bytecode compiled once here: imports take a third of the time with it. A few
# packages ship templates that are not Python; compileall names them and goes on.
RUN python -m compileall -q -j 0 /opt/kubetfx/lib > /dev/null || true

FROM ${BASE_IMAGE} AS image
ARG STACK
# Debian's Python, where the base is plain Debian (the 1.21 stack); the 1.16 base has its own.
# hadolint ignore=DL3008
RUN if [ "$STACK" != 1.16 ] && ! command -v python3 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3 libgomp1 \
      && rm -rf /var/lib/apt/lists/*; \
    fi
LABEL org.opencontainers.image.title="kubetfx" \
      org.opencontainers.image.description="TFX components and the Kubeflow Pipelines task entrypoint of kubetfx" \
      io.kubetfx.stack="${STACK}"
COPY --from=build /opt/kubetfx /opt/kubetfx
ENV PATH=/opt/kubetfx/bin:$PATH \
    VIRTUAL_ENV=/opt/kubetfx \
    TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/kubetfx
RUN /usr/sbin/groupadd --gid 1000 kubetfx \
 && /usr/sbin/useradd --uid 1000 --gid 1000 --create-home kubetfx
USER 1000:1000
WORKDIR /home/kubetfx
ENTRYPOINT ["kubetfx"]
CMD ["--help"]

# The test suite of the stack in the image, run by `make test-container`: the
# image plus the stack's test tools at its lock's versions (and Vertex AI's
# client, which a compiler test loads a package into), and the sources as an
# editable install, so the tests import the code they test.
FROM image AS test
ARG STACK
USER 0:0
WORKDIR /src
# Chromium renders the run report in the browser tests. The wheel's test installs
# kubetfx as a user does, and on Python 3.13 pip builds pyfarmhash from source:
# a C++ compiler and the Python headers, as the README says.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium g++ python3-dev \
 && rm -rf /var/lib/apt/lists/*
COPY stacks/${STACK}/requirements.lock requirements.lock
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca PIP_CERT=/run/secrets/ca; fi \
 && pip install --no-cache-dir --disable-pip-version-check uv==0.13.9 \
 && grep -E '^(mlflow|pytest|pytest-xdist|uv|google-cloud-aiplatform)==' requirements.lock > tools.txt \
 && uv pip install --no-cache --compile-bytecode --python /opt/kubetfx/bin/python \
      -r tools.txt -c requirements.lock
COPY . .
RUN uv pip install --no-cache --no-deps --no-build-isolation --python /opt/kubetfx/bin/python -e . \
 && chown -R 1000:1000 /src
# The tests run as the tasks do, as user 1000 (the wheel's test builds in /src).
USER 1000:1000
ENTRYPOINT []
CMD ["python", "-m", "pytest", "-m", "not e2e"]

# The default target: the image the tasks run in.
FROM image
