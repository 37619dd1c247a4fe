"""vbus: the typed real-time vehicle bus, from Python.

A :class:`Node` joins a vbus domain; its endpoints publish and receive values of FlatBuffers
tables as dicts, encoded and decoded through the type's binary schema (``.bfbs``), which is
either given or fetched from the node that serves it::

    import vbus

    with vbus.Node('{ name: "py", domain: "car1" }') as node:
        for sample in node.subscriber("chassis/speed"):
            print(sample.seq, sample.value["kph"])

The implementation is the Rust library itself (the extension module ``vbus._vbus``): the same
QoS, type-hash checks, verification, counters and data paths as Rust programs.
"""

from ._errors import (
    AccessDenied,
    CallError,
    CallTimeout,
    CallTypeMismatch,
    ClosedError,
    ConfigError,
    Error,
    InvalidKey,
    PayloadError,
    SchemaError,
    TimeoutError,
    TransportError,
    TypeMismatch,
)
from ._types import EndpointStats, Event, QoS, SchemaArg, Stats, TopicInfo, Value
from ._vbus import (
    DEFAULT_CONFIG,
    FieldClient,
    FieldOwner,
    Node,
    Publisher,
    Sample,
    Subscriber,
    __version__,
)

__all__ = [
    "Node",
    "Subscriber",
    "Publisher",
    "Sample",
    "FieldOwner",
    "FieldClient",
    "DEFAULT_CONFIG",
    "__version__",
    "QoS",
    "Stats",
    "EndpointStats",
    "TopicInfo",
    "Value",
    "Event",
    "SchemaArg",
    "Error",
    "ConfigError",
    "InvalidKey",
    "SchemaError",
    "PayloadError",
    "TimeoutError",
    "ClosedError",
    "CallError",
    "CallTimeout",
    "CallTypeMismatch",
    "TypeMismatch",
    "AccessDenied",
    "TransportError",
]
