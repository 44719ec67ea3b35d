"""Code that runs inside kubetfx pipeline tasks.

Everything here is loaded by TFX executors, locally or in the container image:
the project model they are configured by, the generic tf.Transform
``preprocessing_fn`` and Trainer ``run_fn``, the evaluation config, kubetfx's
own components and executors, the Kubeflow task entrypoint and the dashboard
views.
"""

import os

# TFX 1.16's Keras code is written for Keras 2. TensorFlow 2.16 defaults to
# Keras 3 unless this is set before TensorFlow is first imported, and the
# Trainer then fails with "`inputs` not connected to `outputs`".
os.environ["TF_USE_LEGACY_KERAS"] = "1"
