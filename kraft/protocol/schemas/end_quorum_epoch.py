"""EndQuorumEpoch (API key 54).

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema

END_QUORUM_EPOCH_REQUEST = MessageSchema(
    'EndQuorumEpochRequest', 'request', api_key=54,
    valid='0-1', flexible='1+',
    fields=(
        Field('ClusterId', 'string', '0+', nullable='0+', default='null'),
        Field('Topics', '[]TopicData', '0+', fields=(
            Field('TopicName', 'string', '0+'),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
                Field('LeaderId', 'int32', '0+'),
                Field('LeaderEpoch', 'int32', '0+'),
                Field('PreferredSuccessors', '[]int32', '0', ignorable=True),
                Field('PreferredCandidates', '[]ReplicaInfo', '1+', ignorable=True, fields=(
                    Field('CandidateId', 'int32', '1+'),
                    Field('CandidateDirectoryId', 'uuid', '1+'),
                )),
            )),
        )),
        Field('LeaderEndpoints', '[]LeaderEndpoint', '1+', ignorable=True, fields=(
            Field('Name', 'string', '1+'),
            Field('Host', 'string', '1+'),
            Field('Port', 'uint16', '1+'),
        )),
    ),
)

END_QUORUM_EPOCH_RESPONSE = MessageSchema(
    'EndQuorumEpochResponse', 'response', api_key=54,
    valid='0-1', flexible='1+',
    fields=(
        Field('ErrorCode', 'int16', '0+'),
        Field('Topics', '[]TopicData', '0+', fields=(
            Field('TopicName', 'string', '0+'),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
                Field('ErrorCode', 'int16', '0+'),
                Field('LeaderId', 'int32', '0+'),
                Field('LeaderEpoch', 'int32', '0+'),
            )),
        )),
        Field('NodeEndpoints', '[]NodeEndpoint', '1+', tag=0, tagged='1+', fields=(
            Field('NodeId', 'int32', '1+'),
            Field('Host', 'string', '1+'),
            Field('Port', 'uint16', '1+'),
        )),
    ),
)

