# Placeholder: the kubetfx container image is not built yet.
#
# The image that every task of the compiled Kubeflow pipeline runs in (locked
# dependencies, components/, pipelines/ and the KFP entrypoint) is tracked as
# its own piece of work; until it lands, use `make run` to run the pipeline
# locally.
