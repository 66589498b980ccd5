"""FetchSnapshot (API key 59).

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema

FETCH_SNAPSHOT_REQUEST = MessageSchema(
    'FetchSnapshotRequest', 'request', api_key=59,
    valid='0-1', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0+', nullable='0+', default='null', tag=0, tagged='0+'),
        Field('ReplicaId', 'int32', '0+', default='-1'),
        Field('MaxBytes', 'int32', '0+', default='0x7fffffff'),
        Field('Topics', '[]TopicSnapshot', '0+', fields=(
            Field('Name', 'string', '0+'),
            Field('Partitions', '[]PartitionSnapshot', '0+', fields=(
                Field('Partition', 'int32', '0+'),
                Field('CurrentLeaderEpoch', 'int32', '0+'),
                Field('SnapshotId', 'SnapshotId', '0+', fields=(
                    Field('EndOffset', 'int64', '0+'),
                    Field('Epoch', 'int32', '0+'),
                )),
                Field('Position', 'int64', '0+'),
                Field('ReplicaDirectoryId', 'uuid', '1+', tag=0, tagged='1+', ignorable=True),
            )),
        )),
    ),
)

FETCH_SNAPSHOT_RESPONSE = MessageSchema(
    'FetchSnapshotResponse', 'response', api_key=59,
    valid='0-1', flexible='0+',
    fields=(
        Field('ThrottleTimeMs', 'int32', '0+', ignorable=True),
        Field('ErrorCode', 'int16', '0+'),
        Field('Topics', '[]TopicSnapshot', '0+', fields=(
            Field('Name', 'string', '0+'),
            Field('Partitions', '[]PartitionSnapshot', '0+', fields=(
                Field('Index', 'int32', '0+'),
                Field('ErrorCode', 'int16', '0+'),
                Field('SnapshotId', 'SnapshotId', '0+', fields=(
                    Field('EndOffset', 'int64', '0+'),
                    Field('Epoch', 'int32', '0+'),
                )),
                Field('CurrentLeader', 'LeaderIdAndEpoch', '0+', tag=0, tagged='0+', fields=(
                    Field('LeaderId', 'int32', '0+'),
                    Field('LeaderEpoch', 'int32', '0+'),
                )),
                Field('Size', 'int64', '0+'),
                Field('Position', 'int64', '0+'),
                Field('UnalignedRecords', 'records', '0+'),
            )),
        )),
        Field('NodeEndpoints', '[]NodeEndpoint', '1+', tag=0, tagged='1+', fields=(
            Field('NodeId', 'int32', '1+'),
            Field('Host', 'string', '1+'),
            Field('Port', 'uint16', '1+'),
        )),
    ),
)

