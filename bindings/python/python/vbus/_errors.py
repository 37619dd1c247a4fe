"""The exceptions of vbus: one hierarchy under :class:`vbus.Error`.

Each carries the library's message as its only argument (``str(e)``).
"""

import builtins

__all__ = [
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


class Error(Exception):
    """Base class of every vbus error."""


class ConfigError(Error, ValueError):
    """The node configuration is invalid (the message names the file and the field), or an
    option such as a QoS setting is."""


class InvalidKey(Error, ValueError):
    """A topic or service key is invalid (empty chunk, wildcard, ``@`` chunk, ...)."""


class SchemaError(Error):
    """No schema for a type (none given, none served within the timeout), a schema that is not a
    valid ``.bfbs``, or a type the schema does not have."""


class PayloadError(Error, ValueError):
    """A value that does not match the type's schema (the message names the path, what was
    expected and what was found), or bytes that are not a valid FlatBuffer of the type."""


class TimeoutError(Error, builtins.TimeoutError):
    """Nothing came within the timeout; the endpoint is still open. Also a builtin
    ``TimeoutError``."""


class ClosedError(Error):
    """The node or the endpoint is closed: nothing more will come or go through it."""


class CallError(Error):
    """A service call failed: no server, the server refused, an invalid reply, ..."""


class TypeMismatch(Error):
    """Two sides use different schemas for one type (their type hashes differ). Subscribers
    report this as ``type_mismatch`` events instead (``Subscriber.events()``)."""


class CallTimeout(CallError, TimeoutError):
    """No reply within the call's timeout (a :class:`CallError` and a :class:`TimeoutError`)."""


class CallTypeMismatch(CallError, TypeMismatch):
    """The reply's type hash differs from the reply type's (a :class:`CallError` and a
    :class:`TypeMismatch`)."""


class AccessDenied(Error):
    """The node's access policy forbids this endpoint or publish."""


class TransportError(Error):
    """The transport (zenoh, or the same-host shared-memory path) refused the operation."""
