"""The taxi model: a wide-and-deep Keras classifier, trained by the Trainer's ``run_fn``.

The SavedModel it writes has two signatures:
- ``serving_default``: serialized ``tf.Example``s of raw features in, ``outputs``
  (probability of a big tip) out; what the Pusher ships.
- ``transform_features``: raw examples in, transformed features out; what the
  Evaluator uses to compute the label the model was trained on.
"""

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.tfxio import dataset_options

from kubetfx.components import features

TRAIN_BATCH_SIZE = 64
EVAL_BATCH_SIZE = 64
DEFAULT_HIDDEN_UNITS = (100, 70, 50, 25)


def require_keras_2() -> None:
    """Fails early with the fix when TensorFlow was imported under Keras 3."""
    if not tf.keras.__name__.startswith("tf_keras"):
        raise RuntimeError(
            f"tf.keras is {tf.keras.__name__} (Keras 3), but TFX 1.16 needs Keras 2: "
            "set TF_USE_LEGACY_KERAS=1 before TensorFlow is imported and install tf-keras"
        )


def input_fn(
    file_pattern: list[str],
    data_accessor: DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int,
) -> tf.data.Dataset:
    """An endless dataset of (transformed features, label) batches."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        dataset_options.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=features.TRANSFORMED_LABEL_KEY
        ),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def build_keras_model(hidden_units: list[int] | None = None) -> tf.keras.Model:
    """A compiled wide-and-deep binary classifier over the transformed features.

    The deep part sees the standardized numeric features; the wide part sees
    one-hot encodings of every categorical, vocabulary and bucketized feature.
    """
    tn = features.transformed_name
    deep_inputs = {
        tn(key): tf.keras.layers.Input(name=tn(key), shape=(1,), dtype=tf.float32)
        for key in features.DENSE_FLOAT_FEATURE_KEYS
    }
    wide_sizes: dict[str, int] = {}
    for key in features.VOCAB_FEATURE_KEYS:
        wide_sizes[tn(key)] = features.VOCAB_SIZE + features.OOV_SIZE
    for key in features.BUCKET_FEATURE_KEYS:
        wide_sizes[tn(key)] = features.FEATURE_BUCKET_COUNT
    for key, max_values in features.CATEGORICAL_FEATURE_MAX_VALUES.items():
        wide_sizes[tn(key)] = max_values
    wide_inputs = {
        name: tf.keras.layers.Input(name=name, shape=(1,), dtype=tf.int64) for name in wide_sizes
    }

    deep = tf.keras.layers.concatenate(list(deep_inputs.values()))
    for units in hidden_units or DEFAULT_HIDDEN_UNITS:
        deep = tf.keras.layers.Dense(units, activation="relu")(deep)

    wide = tf.keras.layers.concatenate(
        [
            tf.keras.layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(
                wide_inputs[name]
            )
            for name, size in wide_sizes.items()
        ]
    )
    output = tf.keras.layers.Dense(1, activation="sigmoid")(
        tf.keras.layers.concatenate([deep, wide])
    )
    model = tf.keras.Model(inputs={**deep_inputs, **wide_inputs}, outputs=output)
    model.compile(
        loss="binary_crossentropy",
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
        metrics=[tf.keras.metrics.BinaryAccuracy()],
    )
    return model


def _serving_signature(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput):
    """Serialized raw ``tf.Example``s (no label) in, big-tip probability out."""
    model.tft_layer_inference = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_examples):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        raw_feature_spec.pop(features.LABEL_KEY)
        raw_features = tf.io.parse_example(serialized_examples, raw_feature_spec)
        transformed = model.tft_layer_inference(raw_features)
        return {"outputs": model(transformed)}

    return serve_tf_examples_fn


def _transform_features_signature(
    model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput
):
    """Serialized raw ``tf.Example``s in, transformed features (with label) out."""
    model.tft_layer_eval = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_examples):
        raw_features = tf.io.parse_example(
            serialized_examples, tf_transform_output.raw_feature_spec()
        )
        return model.tft_layer_eval(raw_features)

    return transform_features_fn


def run_fn(fn_args: FnArgs) -> None:
    """Trains the model and writes a SavedModel to ``fn_args.serving_model_dir``."""
    require_keras_2()
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train_dataset = input_fn(
        fn_args.train_files, fn_args.data_accessor, tf_transform_output, TRAIN_BATCH_SIZE
    )
    eval_dataset = input_fn(
        fn_args.eval_files, fn_args.data_accessor, tf_transform_output, EVAL_BATCH_SIZE
    )
    model = build_keras_model()
    model.fit(
        train_dataset,
        steps_per_epoch=fn_args.train_steps,
        validation_data=eval_dataset,
        validation_steps=fn_args.eval_steps,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
        verbose=2,
    )
    signatures = {
        "serving_default": _serving_signature(model, tf_transform_output),
        "transform_features": _transform_features_signature(model, tf_transform_output),
    }
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=signatures)
