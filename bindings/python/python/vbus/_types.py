"""Typed shapes of the dicts vbus takes and returns (for type checkers; plain dicts at run time)."""

import os
from typing import Any, Literal, TypedDict

__all__ = ["QoS", "Stats", "EndpointStats", "TopicInfo", "Value", "Event", "SchemaArg"]

Value = dict[str, Any]
"""A table's value: field name -> value."""

Event = dict[str, Any]
"""A topic event (``vbus::TopicEvent``): ``kind`` and ``key``, ``message`` (the library's
description), and per kind:

- ``deadline_missed``: ``deadline``, ``silent_for`` (seconds)
- ``type_mismatch``: ``expected_type``, ``expected_hash``, ``found_hash``, ``publisher_id``
- ``rejected``: ``reason_kind`` (``header`` / ``payload``), ``reason``
- ``e2e_violation``: ``publisher_id``, ``seq``, ``violation_kind`` (``missing``, ``corrupted``,
  ``wrong_data_id`` with ``expected_data_id`` / ``found_data_id``, ``repeated``, ``delayed`` with
  ``age``), ``violation``
- ``samples_lost``: ``publisher_id``, ``expected_seq``, ``received_seq``, ``lost``
"""

SchemaArg = bytes | bytearray | str | os.PathLike[str]
"""A ``.bfbs`` (flatc's binary schema, e.g. the one vbus-codegen writes) as bytes, or its path."""


class QoS(TypedDict, total=False):
    """QoS options of an endpoint (any subset). The rest are the topic's own, as its schema
    declares them (``vbus_priority``, ``vbus_history``, ``vbus_period_ms``, ...: what codegen
    compiles into Rust and C++ topics), else ``vbus::QoS::new()``'s defaults: reliable, priority
    ``data``, not express, ``drop``, no history, queue 64, no deadline, no lifespan, no E2E.
    Durations in seconds."""

    reliability: Literal["reliable", "best_effort"]
    priority: Literal["realtime", "interactive_high", "interactive_low", "data_high", "data", "data_low", "background"]
    express: bool
    congestion: Literal["drop", "block"]
    history: int
    """Samples a publisher keeps for late joiners; a subscriber with history asks for them."""
    queue: int
    """Subscriber queue depth."""
    deadline: float | None
    """A subscriber reports ``deadline_missed`` events beyond it."""
    lifespan: float | None
    """Older samples are dropped as expired."""
    e2e: bool


class Stats(TypedDict):
    """An endpoint's counters (``vbus::TopicStats``)."""

    sent: int
    delivered: int
    dropped: int
    rejected: int
    mismatched: int
    lost: int
    duplicates: int
    expired: int
    deadline_missed: int
    backpressure_waits: int
    backpressure_ns: int
    events_dropped: int
    e2e_errors: int
    refused: int


class EndpointStats(TypedDict):
    """One endpoint of ``Node.stats()``."""

    role: Literal["publisher", "subscriber", "service_server", "service_client"]
    key: str
    type_name: str
    stats: Stats


class TopicInfo(TypedDict):
    """One endpoint of ``Node.topics()``."""

    key: str
    type_name: str
    node: str
    publisher: bool
