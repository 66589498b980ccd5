"""The transport's use of the protocol layer's frames: parse failures close, error responses."""
from __future__ import annotations

from kraft.net.errors import InvalidRequestError
from kraft.protocol import ProtocolError
from kraft.protocol.frames import parse_request, parse_response, write_request, write_response
from kraft.protocol.messages import API_MESSAGES, RequestHeader, ResponseHeader


def encode_request(api_key: int, api_version: int, correlation_id: int, client_id, message) -> bytes:
    """A whole request frame (size prefix included)."""
    header = RequestHeader(request_api_key=api_key, request_api_version=api_version,
                           correlation_id=correlation_id, client_id=client_id)
    return write_request(header, message)


def decode_request(payload: bytes):
    """(header, message) of a request payload (no size prefix); InvalidRequestError if malformed."""
    try:
        return parse_request(payload)
    except ProtocolError as e:
        raise InvalidRequestError(f"malformed request: {e}") from e


def encode_response(api_key: int, api_version: int, correlation_id: int, message, vectored: bool = False):
    """A whole response frame (size prefix included): ``bytes``, or with ``vectored`` a list of
    buffers that reference a large records value instead of copying it (see ``write_response``)."""
    return write_response(ResponseHeader(correlation_id=correlation_id), message, api_key, api_version, vectored)


def decode_response(payload: bytes, api_key: int, api_version: int):
    """The response message in a response payload (no size prefix)."""
    return parse_response(payload, api_key, api_version)[1]


def error_response(api_key: int, api_version: int, error_code: int):
    """Kafka's generic error response: the response with only its top-level error code set.

    ``None`` when the response has no top-level error code at that version.
    """
    response_class = API_MESSAGES[api_key][1]
    for field in response_class._fields:
        if field.attr == "error_code":
            return response_class(error_code=error_code) if api_version in field.versions else None
    return None
