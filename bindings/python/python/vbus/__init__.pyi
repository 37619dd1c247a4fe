"""Type stubs of the vbus package (the extension module ``vbus._vbus`` and its exceptions).

Values are dicts of the FlatBuffers table, as vbus-reflect maps them: tables are dicts, vectors
lists, enums their value names (numbers are accepted too), unions a ``<field>_type`` member name
beside the member's dict, optional scalars ``None`` when unset, floats that JSON cannot hold the
strings ``"nan"``, ``"inf"``, ``"-inf"``. Decoding shows every scalar field (its default when
absent) and omits absent strings, tables and vectors.
"""

import builtins
import os
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal, Self

__version__: str

DEFAULT_CONFIG: str
"""The commented default node configuration (JSON5): every option, with its default."""

from vbus._types import EndpointStats as EndpointStats
from vbus._types import Event as Event
from vbus._types import QoS as QoS
from vbus._types import SchemaArg as SchemaArg
from vbus._types import Stats as Stats
from vbus._types import TopicInfo as TopicInfo
from vbus._types import Value as Value

class Node:
    """A vbus node: one zenoh session, a name and a domain, and the factory of endpoints.

    ``Node(config)`` takes the configuration as JSON5 text or a dict, ``Node(file=path)`` a JSON5
    file; fields left out keep the defaults of :data:`DEFAULT_CONFIG` (a peer that listens on an
    ephemeral loopback port and connects to the router at ``tcp/127.0.0.1:7447``). Raises
    :class:`ConfigError` naming the file and the field. The node runs its own tokio runtime (two
    worker threads); blocking calls release the GIL, and Ctrl-C interrupts them.
    """

    def __init__(self, config: str | dict[str, Any] | None = None, *, file: str | os.PathLike[str] | None = None) -> None: ...
    def close(self) -> None:
        """Withdraw from the bus and close the session. Subscribers return what they had
        queued, then stop; other endpoints raise :class:`ClosedError`. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool: ...
    @property
    def name(self) -> str:
        """Node name."""
    @property
    def domain(self) -> str:
        """Domain (vehicle) name."""
    @property
    def mode(self) -> Literal["peer", "client", "router"]:
        """Network role."""
    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
    @property
    def locators(self) -> list[str]:
        """Where the node listens, resolved ports included (``tcp/127.0.0.1:40123``)."""
    @property
    def data_path(self) -> str:
        """How samples to and from nodes of this host travel (shared memory, or zenoh only and
        why)."""
    @property
    def config(self) -> dict[str, Any]:
        """The configuration the node was opened with."""
    def topics(self) -> list[TopicInfo]:
        """Publishers and subscribers alive in the domain."""
    def alive_nodes(self) -> list[str]:
        """Names of the domain's nodes alive now (this one included)."""
    def stats(self) -> list[EndpointStats]:
        """Counters of every live endpoint of this node."""
    def schema(self, type_name: str, timeout: float = 5.0) -> bytes:
        """The ``.bfbs`` a node serves for ``type_name``, waiting up to ``timeout`` seconds;
        :class:`SchemaError` if none does."""
    def subscriber(
        self,
        key: str,
        type_name: str | None = None,
        *,
        schema: SchemaArg | None = None,
        queue: int | None = None,
        qos: QoS | None = None,
        schema_timeout: float = 5.0,
    ) -> Subscriber:
        """A subscriber of ``key``.

        The type is the table ``type_name`` of ``schema`` (without ``type_name``: the table that
        declares ``vbus_topic: key``, else the root type); without ``schema``, the schema a node
        serves for ``type_name``; without either, the type that the endpoints on ``key`` announce.
        The bus is asked for up to ``schema_timeout`` seconds (:class:`SchemaError` after).
        ``queue``: the queue depth (default 64). Raises :class:`InvalidKey` for a bad key.
        """
    def publisher(
        self,
        key: str,
        type_name: str | None = None,
        *,
        schema: SchemaArg | None = None,
        qos: QoS | None = None,
        schema_timeout: float = 5.0,
    ) -> Publisher:
        """A publisher on ``key``, its type resolved as for :meth:`subscriber`. It serves the
        type's schema, so that other nodes and ``vbus echo`` decode its samples."""
    def field(
        self,
        key: str,
        type_name: str | None = None,
        *,
        schema: SchemaArg | None = None,
        qos: QoS | None = None,
        schema_timeout: float = 5.0,
    ) -> FieldClient:
        """A client of the field ``key``: the current value at once (if set), then every change.
        The type is resolved as for :meth:`subscriber`."""
    def field_owner(
        self,
        key: str,
        type_name: str | None = None,
        *,
        schema: SchemaArg | None = None,
        qos: QoS | None = None,
        schema_timeout: float = 5.0,
    ) -> FieldOwner:
        """The owner of the field ``key`` (sets it; the latest value is kept for late joiners).
        It serves the type's schema."""
    def call(
        self,
        service: str,
        request: Value,
        timeout: float = 1.0,
        *,
        schema: SchemaArg | None = None,
        request_type: str | None = None,
    ) -> Value:
        """Call ``service`` with ``request`` and return the reply, waiting up to ``timeout``
        seconds.

        The request and reply types come from the schemas servers serve (the request table
        declares ``vbus_service: service`` and names its reply with ``vbus_reply``), or from
        ``schema``; ``request_type`` picks the request table by name. Raises :class:`CallError`
        (no server, refused, ...), :class:`CallTimeout`, :class:`CallTypeMismatch`,
        :class:`PayloadError` for a request that does not match its type.
        """

class Sample:
    """A received sample."""

    @property
    def value(self) -> Value:
        """The value, decoded through the schema (once, on first access)."""
    @property
    def bytes(self) -> builtins.bytes:
        """The FlatBuffers payload (verified on receipt)."""
    @property
    def seq(self) -> int:
        """The publisher's sequence number (from 1)."""
    @property
    def source_time_ns(self) -> int:
        """Source time, ns since the UNIX epoch."""
    @property
    def publisher_id(self) -> int:
        """Id of the publisher that sent it (``Publisher.id``)."""
    @property
    def path(self) -> Literal["shared-memory", "zenoh"]:
        """How it came: through shared memory (same host) or zenoh."""
    @property
    def latency(self) -> float:
        """Seconds from publication to receipt (wall clocks)."""
    @property
    def key(self) -> str:
        """Topic key."""
    @property
    def type_name(self) -> str:
        """Schema type name."""

class Subscriber:
    """Receives the samples of one topic: ``for s in sub`` (blocking; Ctrl-C interrupts),
    ``async for s in sub`` (asyncio), or ``recv()``. Iteration ends once the node (or this
    subscriber) is closed and the queue drained."""

    def recv(self, timeout: float | None = None) -> Sample:
        """The next sample, waiting up to ``timeout`` seconds (``None``: as long as it takes).
        :class:`TimeoutError` if none came, :class:`ClosedError` if none will."""
    def try_recv(self) -> Sample | None:
        """The next sample if one is queued."""
    async def arecv(self, timeout: float | None = None) -> Sample:
        """``recv()`` for asyncio (waits on the node's runtime, not in a thread)."""
    def __iter__(self) -> Iterator[Sample]: ...
    def __next__(self) -> Sample: ...
    def __aiter__(self) -> Self: ...
    async def __anext__(self) -> Sample: ...
    def events(self) -> list[Event]:
        """Every queued event, oldest first."""
    def next_event(self, timeout: float | None = None) -> Event:
        """The next event, waiting up to ``timeout`` seconds (:class:`TimeoutError`)."""
    def stats(self) -> Stats:
        """The subscriber's counters."""
    @property
    def queued(self) -> int:
        """Samples waiting in the queue."""
    @property
    def key(self) -> str:
        """Topic key."""
    @property
    def type_name(self) -> str:
        """Schema type name."""
    @property
    def type_hash(self) -> int:
        """The type hash samples must carry (others are reported as ``type_mismatch``)."""
    @property
    def schema(self) -> builtins.bytes:
        """The per-type ``.bfbs`` samples are decoded with."""
    def close(self) -> None:
        """Undeclare the subscriber; waits on it end. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool: ...

class Publisher:
    """Publishes values of one type on one topic."""

    def publish(self, value: Value, *, source_time_ns: int | None = None) -> None:
        """Encode ``value`` through the schema and publish it (:class:`PayloadError` names what
        does not match). On a ``block`` topic a full path makes it wait (back-pressure)."""
    def publish_bytes(self, data: builtins.bytes, *, source_time_ns: int | None = None) -> None:
        """Publish FlatBuffers bytes of the type (verified first)."""
    def wait_for_subscribers(self, timeout: float = 5.0) -> bool:
        """Wait until a subscriber matches (samples published before reach nobody)."""
    def has_subscribers(self) -> bool:
        """Whether a subscriber matches now."""
    def stats(self) -> Stats:
        """The publisher's counters."""
    @property
    def key(self) -> str:
        """Topic key."""
    @property
    def type_name(self) -> str:
        """Schema type name."""
    @property
    def type_hash(self) -> int:
        """The type hash every sample carries."""
    @property
    def id(self) -> int:
        """This publisher's id (``Sample.publisher_id``)."""
    @property
    def schema(self) -> builtins.bytes:
        """The per-type ``.bfbs`` this publisher serves."""
    def close(self) -> None:
        """Undeclare the publisher. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool: ...

class FieldOwner:
    """Sets a field's value; the latest value is kept for clients that join later."""

    def set(self, value: Value) -> None:
        """Set the value and notify the clients."""
    def set_bytes(self, data: builtins.bytes) -> None:
        """Set the value from FlatBuffers bytes of the type (verified first)."""
    def stats(self) -> Stats:
        """The owner's counters."""
    @property
    def key(self) -> str:
        """Field key."""
    @property
    def type_name(self) -> str:
        """Schema type name."""
    def close(self) -> None:
        """Undeclare the owner. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool: ...

class FieldClient:
    """Follows a field: ``get()`` is the current value, ``changed()`` waits for the next one."""

    def get(self) -> Value | None:
        """The current value, ``None`` until the owner has set one."""
    def sample(self) -> Sample | None:
        """The current value with its header."""
    def changed(self, timeout: float | None = None) -> Value:
        """Wait for a value newer than the last one this returned (the first call returns at
        once if one is known). :class:`TimeoutError`, :class:`ClosedError`."""
    def stats(self) -> Stats:
        """The client's counters."""
    @property
    def key(self) -> str:
        """Field key."""
    @property
    def type_name(self) -> str:
        """Schema type name."""
    def close(self) -> None:
        """Stop following the field. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool: ...

class Error(Exception):
    """Base class of every vbus error; ``str(e)`` is the library's message."""

class ConfigError(Error, ValueError):
    """Invalid node configuration (file and field named) or option."""

class InvalidKey(Error, ValueError):
    """Invalid topic or service key."""

class SchemaError(Error):
    """No schema for a type, an invalid ``.bfbs``, or a type it lacks."""

class PayloadError(Error, ValueError):
    """A value that does not match the schema, or bytes that are not a valid payload."""

class TimeoutError(Error, builtins.TimeoutError):
    """Nothing within the timeout."""

class ClosedError(Error):
    """The node or endpoint is closed."""

class CallError(Error):
    """A service call failed."""

class TypeMismatch(Error):
    """Two sides use different schemas for one type."""

class CallTimeout(CallError, TimeoutError):
    """No reply within the call's timeout."""

class CallTypeMismatch(CallError, TypeMismatch):
    """The reply's type hash differs from the reply type's."""

class AccessDenied(Error):
    """The node's access policy forbids it."""

class TransportError(Error):
    """The transport refused the operation."""
