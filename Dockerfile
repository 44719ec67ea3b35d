# The kubetfx image: every task of the compiled Kubeflow pipeline runs in it.
#
#   DOCKER_BUILDKIT=1 docker build -t kubetfx:0.1.0 .
#
# BASE_IMAGE must provide Python 3.10 at /usr/local/bin/python3.10 (TFX 1.16
# supports no newer Python). Pin it by digest for reproducible builds, e.g.
# --build-arg BASE_IMAGE=python:3.10.13-slim-bookworm@sha256:<digest>.
ARG BASE_IMAGE=python:3.10.13-slim-bookworm

# checkov:skip=CKV_DOCKER_7: the base is a build argument; its default names an exact Python version
# checkov:skip=CKV_DOCKER_2: pipeline tasks run to completion; there is no service to health-check
FROM ${BASE_IMAGE} AS build
# g++ builds the few locked packages that ship only as source (pyfarmhash, ...).
# It stays in this stage, so its exact version, which the base decides, never ships.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/kubetfx PATH=/opt/kubetfx/bin:$PATH
WORKDIR /src
# The tasks' share of requirements.lock (make lock): MLflow's client alone, no test tools.
COPY requirements-image.lock .
# An optional CA bundle (build secret "ca") for builds behind a TLS-intercepting proxy.
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca PIP_CERT=/run/secrets/ca; fi \
 && python3.10 -m venv /opt/kubetfx \
 && pip install --no-cache-dir --disable-pip-version-check uv==0.13.9 \
 && uv pip sync --no-cache --python /opt/kubetfx/bin/python requirements-image.lock \
 # The CPU build of TensorFlow: the same 2.16.2 module without the GPU kernels.
 && uv pip uninstall --python /opt/kubetfx/bin/python tensorflow \
 && uv pip install --no-cache --no-deps --python /opt/kubetfx/bin/python tensorflow-cpu==2.16.2 \
 # Notebook front ends and libclang come with TFMA and TensorFlow; no task uses them.
 && uv pip uninstall --python /opt/kubetfx/bin/python libclang jupyterlab notebook \
 && rm -rf /opt/kubetfx/share/jupyter
COPY setup.py README.md ./
COPY components components
COPY pipelines pipelines
COPY projects projects
COPY api api
COPY kubernetes kubernetes
# Built with the locked setuptools, offline.
RUN uv pip install --no-cache --no-deps --no-build-isolation --python /opt/kubetfx/bin/python . \
 # Nothing a task needs: test suites, C headers, static libraries, tooling.
 && site=/opt/kubetfx/lib/python3.10/site-packages \
 && rm -rf "$site"/tensorflow/include "$site"/pyarrow/include "$site"/ruff* "$site"/pytest* \
      "$site"/_pytest "$site"/uv* \
 && find "$site" -mindepth 2 -depth -type d -name tests \
      -not -path "$site/tensorflow/*" -not -path "$site/numpy/*" -not -path "$site/pandas/*" \
      -exec rm -rf {} + \
 && find "$site" \( -name "*.a" -o -name "*.pyx" -o -name "*.pxd" \) -delete \
 # Packages no task imports: uv, TensorBoard's server binary, and
 # what only notebook front ends and JavaScript-backed Beam features load.
 && uv pip uninstall --python /opt/kubetfx/bin/python babel js2py tensorboard-data-server \
 && rm -f /opt/kubetfx/bin/uv /opt/kubetfx/bin/uvx \
 # Shared libraries without their symbol tables and debug sections (the symbols
 # other libraries link against stay). The *.libs folders hold auditwheel's
 # relocated copies, which are left as they are.
 && find "$site" -name "*.so*" -type f -not -path "*.libs/*" -exec strip --strip-unneeded {} +
# Bytecode compiled once here: imports take a third of the time with it. A few
# packages ship templates that are not Python; compileall names them and goes on.
RUN python -m compileall -q -j 0 /opt/kubetfx/lib/python3.10/site-packages > /dev/null || true

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="kubetfx" \
      org.opencontainers.image.description="TFX components and the Kubeflow Pipelines task entrypoint of kubetfx"
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
