"""kraft's codec against the golden vectors regenerated from Kafka 3.9.2's and 4.4.0's Maven jars.

``tests/data/vectors/kafka-3.9.2`` and ``kafka-4.4`` were written by
``regenerate.py`` (Kafka's own message classes and JSON converters).  Every
3.9.2 line must be reproduced byte for byte, and so must every 4.4.0 line
(kraft keeps the 3.9 JSON names of the Vote request's candidate fields, which
4.0 renamed; the bytes are the same).  A version kraft does not speak would be
listed in ``NOT_SPOKEN_YET`` with the reason (a strict xfail).
"""
from __future__ import annotations

import pytest
from conftest import VECTORS, load_jsonl

from kraft.protocol import RequestHeader, ResponseHeader, read_request, read_response, write_request, write_response
from kraft.protocol.messages import API_MESSAGES

KAFKA_392 = "kafka-3.9.2/messages.jsonl"
KAFKA_44 = "kafka-4.4/messages.jsonl"

#: (api, first version, last version) of each KRaft API in Kafka 4.4.0 (its stable range).
KAFKA_44_VERSIONS = (
    ("ApiVersions", 0, 5), ("Vote", 0, 2), ("BeginQuorumEpoch", 0, 1), ("EndQuorumEpoch", 0, 1),
    ("Fetch", 4, 18), ("FetchSnapshot", 0, 1), ("DescribeQuorum", 0, 2), ("AddRaftVoter", 0, 1),
    ("RemoveRaftVoter", 0, 0), ("UpdateRaftVoter", 0, 0), ("DescribeCluster", 0, 2),
)

#: Versions Kafka 4.4.0 speaks and kraft does not (none left: Vote v2, Fetch v18, AddRaftVoter v1 and
#: DescribeCluster v2 came with issue 13).
NOT_SPOKEN_YET: dict = {}

#: JSON names Kafka renamed after 3.9 (same bytes): 4.x name -> kraft's (3.9) name.
RENAMED_AFTER_39 = {"replicaEpoch": "candidateEpoch", "replicaId": "candidateId",
                    "replicaDirectoryId": "candidateDirectoryId"}


def _renamed(fields, api: str, kind: str):
    """Kafka 4.4's Vote request fields under the 3.9 names kraft uses."""
    if api != "Vote" or kind != "request":
        return fields
    topics = [dict(t, partitions=[{RENAMED_AFTER_39.get(k, k): v for k, v in p.items()} for p in t["partitions"]])
              for t in fields["topics"]]
    return dict(fields, topics=topics)


def _check(entry: dict, fields: dict) -> None:
    request_class, response_class = API_MESSAGES[entry["api_key"]]
    cls = request_class if entry["kind"] == "request" else response_class
    version = entry["version"]
    body, frame = bytes.fromhex(entry["body_hex"]), bytes.fromhex(entry["frame_hex"])
    assert (version in cls.flexible_versions) == entry["flexible"]
    decoded = cls.decode(body, version)
    assert decoded.to_json(version) == fields
    assert decoded.encode(version) == body
    built = cls.from_json(fields, version)
    assert built == decoded and built.encode(version) == body
    if entry["kind"] == "request":
        header, message = read_request(frame)
        assert header == RequestHeader(request_api_key=entry["api_key"], request_api_version=version,
                                       correlation_id=entry["correlation_id"], client_id=entry["client_id"])
        assert header.encode(entry["header_version"]) == bytes.fromhex(entry["header_hex"])
        assert message == decoded and write_request(header, built) == frame
    else:
        header, message = read_response(frame, entry["api_key"], version)
        assert header == ResponseHeader(correlation_id=entry["correlation_id"])
        assert message == decoded and write_response(header, built, entry["api_key"], version) == frame


def _check_all(entries: list[dict], rename: bool = False) -> int:
    for entry in entries:
        fields = _renamed(entry["fields"], entry["api"], entry["kind"]) if rename else entry["fields"]
        try:
            _check(entry, fields)
        except Exception as e:
            raise AssertionError(f"{entry['api']} v{entry['version']} {entry['kind']} instance "
                                 f"{entry['instance']}: {type(e).__name__}: {e}") from e
    return len(entries)


def test_kafka_392_vectors_every_line_byte_exact():
    entries = load_jsonl(KAFKA_392)
    assert _check_all(entries) == len(entries) == 234
    # every API and version kraft speaks is covered by 3.9.2's vectors, or (versions newer than 3.9's,
    # such as ApiVersions v5) by 4.4's
    seen = {(e["api_key"], e["kind"], e["version"]) for e in entries + load_jsonl(KAFKA_44)}
    for api_key, (request_class, response_class) in API_MESSAGES.items():
        for cls, kind in ((request_class, "request"), (response_class, "response")):
            assert all((api_key, kind, v) in seen for v in cls.valid_versions), (cls.name, kind)


def test_kafka_44_vectors_cover_exactly_the_listed_versions():
    listed = {(api, v) for api, low, high in KAFKA_44_VERSIONS for v in range(low, high + 1)}
    entries = load_jsonl(KAFKA_44)
    assert {(e["api"], e["version"]) for e in entries} == listed
    for api, version in listed:
        lines = [e for e in entries if (e["api"], e["version"]) == (api, version)]
        assert sorted((e["kind"], e["instance"]) for e in lines) == [
            (k, i) for k in ("request", "response") for i in range(3)]


def _kafka_44_params():
    for api, low, high in KAFKA_44_VERSIONS:
        for version in range(low, high + 1):
            reason = NOT_SPOKEN_YET.get((api, version))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(api, version, id=f"{api}-v{version}", marks=marks)


@pytest.mark.parametrize("api,version", list(_kafka_44_params()))
def test_kafka_44_vectors(api, version):
    entries = [e for e in load_jsonl(KAFKA_44) if (e["api"], e["version"]) == (api, version)]
    assert len(entries) == 6
    api_key = entries[0]["api_key"]
    if (api, version) in NOT_SPOKEN_YET:
        # what the xfail stands for: kraft has no schema at that version (and says so)
        assert api_key not in API_MESSAGES or version not in API_MESSAGES[api_key][0].valid_versions, \
            f"kraft now knows {api} v{version}: remove it from NOT_SPOKEN_YET"
        pytest.fail(NOT_SPOKEN_YET[(api, version)])
    assert _check_all(entries, rename=True) == 6


@pytest.mark.integration
def test_regenerating_from_the_jars_reproduces_the_committed_files(kafka_version):
    """Deterministic generation: Kafka's classes give exactly the committed bytes again.

    3.9.2 is compiled with javac where there is one; 4.4.0 always goes through Java's source-file
    launcher (what a machine with only a JRE uses), so both paths run."""
    from interop.vectors import regenerate

    use_javac = kafka_version == "3.9.2" and regenerate.javac() is not None
    committed = VECTORS / ("kafka-3.9.2" if kafka_version == "3.9.2" else "kafka-4.4") / "messages.jsonl"
    assert regenerate.generate(kafka_version, use_javac=use_javac) == committed.read_bytes()
