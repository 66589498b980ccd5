"""Vote (API key 52).

Transcribed from Kafka 3.9.0's message definitions into our table form; v2
(KIP-996, Kafka 4.0: the request's ``PreVote``) from Kafka 4.3.1's
VoteRequest.json / VoteResponse.json.  Kafka 4.0 renamed the request's
CandidateEpoch, CandidateId and CandidateDirectoryId to ReplicaEpoch,
ReplicaId and ReplicaDirectoryId (a pre-vote comes from a replica that is not
yet a candidate); the bytes are the same and kraft keeps the 3.9 names."""
from kraft.protocol.schema import Field, MessageSchema

VOTE_REQUEST = MessageSchema(
    'VoteRequest', 'request', api_key=52,
    valid='0-2', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0+', nullable='0+', default='null'),
        Field('VoterId', 'int32', '1+', default='-1', ignorable=True),
        Field('Topics', '[]TopicData', '0+', fields=(
            Field('TopicName', 'string', '0+'),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
                Field('CandidateEpoch', 'int32', '0+'),
                Field('CandidateId', 'int32', '0+'),
                Field('CandidateDirectoryId', 'uuid', '1+', ignorable=True),
                Field('VoterDirectoryId', 'uuid', '1+', ignorable=True),
                Field('LastOffsetEpoch', 'int32', '0+'),
                Field('LastOffset', 'int64', '0+'),
                Field('PreVote', 'bool', '2+'),
            )),
        )),
    ),
)

VOTE_RESPONSE = MessageSchema(
    'VoteResponse', 'response', api_key=52,
    valid='0-2', flexible='0+',
    fields=(
        Field('ErrorCode', 'int16', '0+'),
        Field('Topics', '[]TopicData', '0+', fields=(
            Field('TopicName', 'string', '0+'),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
                Field('ErrorCode', 'int16', '0+'),
                Field('LeaderId', 'int32', '0+'),
                Field('LeaderEpoch', 'int32', '0+'),
                Field('VoteGranted', 'bool', '0+'),
            )),
        )),
        Field('NodeEndpoints', '[]NodeEndpoint', '1+', tag=0, tagged='1+', fields=(
            Field('NodeId', 'int32', '1+'),
            Field('Host', 'string', '1+'),
            Field('Port', 'uint16', '1+'),
        )),
    ),
)

