"""DescribeQuorum (API key 55).

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema, StructSchema

DESCRIBE_QUORUM_REQUEST = MessageSchema(
    'DescribeQuorumRequest', 'request', api_key=55,
    valid='0-2', flexible='0+',
    fields=(
        Field('Topics', '[]TopicData', '0+', fields=(
            Field('TopicName', 'string', '0+'),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
            )),
        )),
    ),
)

DESCRIBE_QUORUM_RESPONSE = MessageSchema(
    'DescribeQuorumResponse', 'response', api_key=55,
    valid='0-2', flexible='0+',
    fields=(
        Field('ErrorCode', 'int16', '0+'),
        Field('ErrorMessage', 'string', '2+', nullable='2+', ignorable=True),
        Field('Topics', '[]TopicData', '0+', fields=(
            Field('TopicName', 'string', '0+'),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
                Field('ErrorCode', 'int16', '0+'),
                Field('ErrorMessage', 'string', '2+', nullable='2+', ignorable=True),
                Field('LeaderId', 'int32', '0+'),
                Field('LeaderEpoch', 'int32', '0+'),
                Field('HighWatermark', 'int64', '0+'),
                Field('CurrentVoters', '[]ReplicaState', '0+'),
                Field('Observers', '[]ReplicaState', '0+'),
            )),
        )),
        Field('Nodes', '[]Node', '2+', fields=(
            Field('NodeId', 'int32', '2+'),
            Field('Listeners', '[]Listener', '2+', fields=(
                Field('Name', 'string', '2+'),
                Field('Host', 'string', '2+'),
                Field('Port', 'uint16', '2+'),
            )),
        )),
    ),
    common_structs=(
        StructSchema('ReplicaState', '0+', fields=(
            Field('ReplicaId', 'int32', '0+'),
            Field('ReplicaDirectoryId', 'uuid', '2+'),
            Field('LogEndOffset', 'int64', '0+'),
            Field('LastFetchTimestamp', 'int64', '1+', default='-1', ignorable=True),
            Field('LastCaughtUpTimestamp', 'int64', '1+', default='-1', ignorable=True),
        )),
    ),
)

