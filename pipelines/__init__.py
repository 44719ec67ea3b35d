"""Pipeline wiring, runners and the ``kubetfx`` command line.

``kubetfx.pipelines.definition`` defines the pipeline once; the runners in this
package execute or compile that one definition.
"""

import os

# Set before anything imports TensorFlow (TFX does, on import): TFX (1.16, 1.21)
# needs Keras 2, and TensorFlow's C++ start-up chatter is not for the terminal.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
