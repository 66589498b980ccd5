"""Fetch (API key 1).

Transcribed from Kafka 3.9.0's message definitions into our table form; v18
(KIP-1166, Kafka 4.1: the follower's ``HighWatermark``, tagged) from Kafka
4.3.1's FetchRequest.json.  Kafka 4.0 dropped v0-3 (KIP-896); kraft still
answers them, for older peers."""
from kraft.protocol.schema import Field, MessageSchema

FETCH_REQUEST = MessageSchema(
    'FetchRequest', 'request', api_key=1,
    valid='0-18', flexible='12+',
    fields=(
        Field('ClusterId', 'string', '12+', nullable='12+', default='null', tag=0, tagged='12+', ignorable=True),
        Field('ReplicaId', 'int32', '0-14', default='-1'),
        Field('ReplicaState', 'ReplicaState', '15+', tag=1, tagged='15+', fields=(
            Field('ReplicaId', 'int32', '15+', default='-1'),
            Field('ReplicaEpoch', 'int64', '15+', default='-1'),
        )),
        Field('MaxWaitMs', 'int32', '0+'),
        Field('MinBytes', 'int32', '0+'),
        Field('MaxBytes', 'int32', '3+', default='0x7fffffff', ignorable=True),
        Field('IsolationLevel', 'int8', '4+', default='0', ignorable=True),
        Field('SessionId', 'int32', '7+', default='0', ignorable=True),
        Field('SessionEpoch', 'int32', '7+', default='-1', ignorable=True),
        Field('Topics', '[]FetchTopic', '0+', fields=(
            Field('Topic', 'string', '0-12', ignorable=True),
            Field('TopicId', 'uuid', '13+', ignorable=True),
            Field('Partitions', '[]FetchPartition', '0+', fields=(
                Field('Partition', 'int32', '0+'),
                Field('CurrentLeaderEpoch', 'int32', '9+', default='-1', ignorable=True),
                Field('FetchOffset', 'int64', '0+'),
                Field('LastFetchedEpoch', 'int32', '12+', default='-1'),
                Field('LogStartOffset', 'int64', '5+', default='-1', ignorable=True),
                Field('PartitionMaxBytes', 'int32', '0+'),
                Field('ReplicaDirectoryId', 'uuid', '17+', tag=0, tagged='17+', ignorable=True),
                Field('HighWatermark', 'int64', '18+', default='9223372036854775807', tag=1, tagged='18+',
                      ignorable=True),
            )),
        )),
        Field('ForgottenTopicsData', '[]ForgottenTopic', '7+', fields=(
            Field('Topic', 'string', '7-12', ignorable=True),
            Field('TopicId', 'uuid', '13+', ignorable=True),
            Field('Partitions', '[]int32', '7+'),
        )),
        Field('RackId', 'string', '11+', default='', ignorable=True),
    ),
)

FETCH_RESPONSE = MessageSchema(
    'FetchResponse', 'response', api_key=1,
    valid='0-18', flexible='12+',
    fields=(
        Field('ThrottleTimeMs', 'int32', '1+', ignorable=True),
        Field('ErrorCode', 'int16', '7+', ignorable=True),
        Field('SessionId', 'int32', '7+', default='0'),
        Field('Responses', '[]FetchableTopicResponse', '0+', fields=(
            Field('Topic', 'string', '0-12', ignorable=True),
            Field('TopicId', 'uuid', '13+', ignorable=True),
            Field('Partitions', '[]PartitionData', '0+', fields=(
                Field('PartitionIndex', 'int32', '0+'),
                Field('ErrorCode', 'int16', '0+'),
                Field('HighWatermark', 'int64', '0+'),
                Field('LastStableOffset', 'int64', '4+', default='-1', ignorable=True),
                Field('LogStartOffset', 'int64', '5+', default='-1', ignorable=True),
                Field('DivergingEpoch', 'EpochEndOffset', '12+', tag=0, tagged='12+', fields=(
                    Field('Epoch', 'int32', '12+', default='-1'),
                    Field('EndOffset', 'int64', '12+', default='-1'),
                )),
                Field('CurrentLeader', 'LeaderIdAndEpoch', '12+', tag=1, tagged='12+', fields=(
                    Field('LeaderId', 'int32', '12+', default='-1'),
                    Field('LeaderEpoch', 'int32', '12+', default='-1'),
                )),
                Field('SnapshotId', 'SnapshotId', '12+', tag=2, tagged='12+', fields=(
                    Field('EndOffset', 'int64', '0+', default='-1'),
                    Field('Epoch', 'int32', '0+', default='-1'),
                )),
                Field('AbortedTransactions', '[]AbortedTransaction', '4+', nullable='4+', ignorable=True, fields=(
                    Field('ProducerId', 'int64', '4+'),
                    Field('FirstOffset', 'int64', '4+'),
                )),
                Field('PreferredReadReplica', 'int32', '11+', default='-1'),
                Field('Records', 'records', '0+', nullable='0+'),
            )),
        )),
        Field('NodeEndpoints', '[]NodeEndpoint', '16+', tag=0, tagged='16+', fields=(
            Field('NodeId', 'int32', '16+'),
            Field('Host', 'string', '16+'),
            Field('Port', 'int32', '16+'),
            Field('Rack', 'string', '16+', nullable='16+', default='null'),
        )),
    ),
)

