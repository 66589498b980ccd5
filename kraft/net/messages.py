"""Request and response frames: Kafka's headers around the protocol layer's message bodies.

Header versions follow Kafka: a request uses header v2 when its API version
is flexible, else v1; a response uses header v1 when flexible, else v0 —
except ApiVersions responses, which always use v0.
"""
from __future__ import annotations

import struct

from kraft.net.errors import InvalidRequestError
from kraft.protocol import ProtocolError
from kraft.protocol.codec import Output
from kraft.protocol.messages import API_MESSAGES, RequestHeader, ResponseHeader

API_VERSIONS_KEY = 18
_SIZE = struct.Struct(">i")


def request_classes(api_key: int):
    """(request class, response class) of an API key, or ``None``."""
    return API_MESSAGES.get(api_key)


def request_header_version(api_key: int, api_version: int) -> int:
    return 2 if api_version in API_MESSAGES[api_key][0].flexible_versions else 1


def response_header_version(api_key: int, api_version: int) -> int:
    if api_key == API_VERSIONS_KEY:
        return 0
    return 1 if api_version in API_MESSAGES[api_key][1].flexible_versions else 0


def encode_request(api_key: int, api_version: int, correlation_id: int, client_id, message) -> bytes:
    """A whole request frame (size prefix included)."""
    out = Output()
    RequestHeader(request_api_key=api_key, request_api_version=api_version, correlation_id=correlation_id,
                  client_id=client_id).encode_into(request_header_version(api_key, api_version), out)
    message.encode_into(api_version, out)
    payload = out.getvalue()
    return _SIZE.pack(len(payload)) + payload


def decode_request(payload: bytes, api_key: int, api_version: int):
    """(header, message) of a request payload (no size prefix); InvalidRequestError if malformed."""
    request_class = API_MESSAGES[api_key][0]
    try:
        header, pos = RequestHeader.decode_from(payload, request_header_version(api_key, api_version))
        return header, request_class.decode(payload, api_version, pos)
    except ProtocolError as e:
        raise InvalidRequestError(
            f"malformed {request_class.name} v{api_version} request: {e}") from e


def encode_response(api_key: int, api_version: int, correlation_id: int, message) -> bytes:
    """A whole response frame (size prefix included)."""
    out = Output()
    ResponseHeader(correlation_id=correlation_id).encode_into(response_header_version(api_key, api_version), out)
    message.encode_into(api_version, out)
    payload = out.getvalue()
    return _SIZE.pack(len(payload)) + payload


def response_body_offset(payload: bytes, api_key: int, api_version: int) -> int:
    """Where the body of a response payload starts (after its header)."""
    _, pos = ResponseHeader.decode_from(payload, response_header_version(api_key, api_version))
    return pos


def decode_response(payload: bytes, api_key: int, api_version: int):
    """The response message in a response payload (no size prefix)."""
    response_class = API_MESSAGES[api_key][1]
    return response_class.decode(payload, api_version, response_body_offset(payload, api_key, api_version))


def error_response(api_key: int, api_version: int, error_code: int):
    """Kafka's generic error response: the response with only its top-level error code set.

    ``None`` when the response has no top-level error code at that version.
    """
    response_class = API_MESSAGES[api_key][1]
    for field in response_class._fields:
        if field.attr == "error_code":
            if api_version in field.versions:
                return response_class(error_code=error_code)
            return None
    return None
