"""A seeded, realistic simulation of community groups with ground truth.

``generate(GeneratorConfig(...))`` returns Kafka records in delivery order
(with late, duplicated and malformed ones) and the ``GroundTruth`` a correct
pipeline must reproduce; ``write_stream``/``read_stream`` keep both on disk
and ``produce`` replays records into Kafka.
"""

from pipeline.devtools.generator.config import GeneratorConfig
from pipeline.devtools.generator.io import read_stream, write_stream
from pipeline.devtools.generator.kafka import produce
from pipeline.devtools.generator.simulation import generate
from pipeline.devtools.generator.stream import GeneratedStream, OutRecord
from pipeline.devtools.generator.truth import GroundTruth

__all__ = [
    "GeneratedStream",
    "GeneratorConfig",
    "GroundTruth",
    "OutRecord",
    "generate",
    "produce",
    "read_stream",
    "write_stream",
]
