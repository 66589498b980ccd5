"""DescribeCluster (API key 60).

Transcribed from Kafka 3.9.0's message definitions into our table form; v2
(KIP-1073: the request's ``IncludeFencedBrokers``, each broker's ``IsFenced``)
from Kafka 4.3.1's DescribeClusterRequest.json / DescribeClusterResponse.json.  A
KRaft controller answers it with ``EndpointType`` 2 (controllers): the admin
client's ``--bootstrap-controller`` path (KIP-919) asks it to find the quorum."""
from kraft.protocol.schema import Field, MessageSchema

DESCRIBE_CLUSTER_REQUEST = MessageSchema(
    'DescribeClusterRequest', 'request', api_key=60,
    valid='0-2', flexible='0+',
    fields=(
        Field('IncludeClusterAuthorizedOperations', 'bool', '0+'),
        Field('EndpointType', 'int8', '1+', default='1'),
        Field('IncludeFencedBrokers', 'bool', '2+'),
    ),
)

DESCRIBE_CLUSTER_RESPONSE = MessageSchema(
    'DescribeClusterResponse', 'response', api_key=60,
    valid='0-2', flexible='0+',
    fields=(
        Field('ThrottleTimeMs', 'int32', '0+'),
        Field('ErrorCode', 'int16', '0+'),
        Field('ErrorMessage', 'string', '0+', nullable='0+', default='null'),
        Field('EndpointType', 'int8', '1+', default='1'),
        Field('ClusterId', 'string', '0+'),
        Field('ControllerId', 'int32', '0+', default='-1'),
        Field('Brokers', '[]DescribeClusterBroker', '0+', fields=(
            Field('BrokerId', 'int32', '0+'),
            Field('Host', 'string', '0+'),
            Field('Port', 'int32', '0+'),
            Field('Rack', 'string', '0+', nullable='0+', default='null'),
            Field('IsFenced', 'bool', '2+'),
        )),
        Field('ClusterAuthorizedOperations', 'int32', '0+', default='-2147483648'),
    ),
)
