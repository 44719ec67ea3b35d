"""Missing values counted as such, in statistics TFDV computes from examples and from CSV."""

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv

from kubetfx.components import statistics


def _feature(stats, name):
    return next(f for f in stats.datasets[0].features if ".".join(f.path.step) == name)


@pytest.fixture(scope="module")
def from_examples(tmp_path_factory):
    """Statistics of tf.Examples as CsvExampleGen writes them: an empty cell, an empty list."""
    path = str(tmp_path_factory.mktemp("examples") / "data.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(10):
            tract = [float(i)] if i == 0 else []  # one value in ten rows
            company = [b"Flash Cab"] if i % 2 else []  # empty in half of them
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "tract": tf.train.Feature(float_list=tf.train.FloatList(value=tract)),
                        "company": tf.train.Feature(bytes_list=tf.train.BytesList(value=company)),
                        "fare": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0 + i])),
                    }
                )
            )
            writer.write(example.SerializeToString())
    return tfdv.generate_statistics_from_tfrecord(data_location=path)


def test_an_empty_list_counts_as_missing(from_examples):
    tract = _feature(from_examples, "tract")
    # TFDV itself sees the feature in every example:
    assert statistics.common_stats(tract).num_non_missing == 10
    assert statistics.present_count(tract) == 1
    assert statistics.missing_count(tract, 10) == 9
    assert statistics.missing_share(_feature(from_examples, "company"), 10) == 0.5
    assert statistics.missing_share(_feature(from_examples, "fare"), 10) == 0.0


def test_an_empty_csv_cell_counts_the_same(tmp_path):
    rows = ["tract,company,fare"] + [
        f"{'0' if i == 0 else ''},{'Flash' if i % 2 else ''},{i}" for i in range(10)
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    stats = tfdv.generate_statistics_from_csv(data_location=str(tmp_path / "data.csv"))
    assert statistics.missing_count(_feature(stats, "tract"), 10) == 9
    assert statistics.missing_share(_feature(stats, "company"), 10) == 0.5
