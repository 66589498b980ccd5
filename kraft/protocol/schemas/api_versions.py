"""ApiVersions (API key 18).

Transcribed from Kafka 3.9.0's message definitions into our table form; v5
(KIP-1242: the request's ClusterId and NodeId, both or neither) from Kafka
4.4.0's ApiVersionsRequest.json / ApiVersionsResponse.json."""
from kraft.protocol.schema import Field, MessageSchema

API_VERSIONS_REQUEST = MessageSchema(
    'ApiVersionsRequest', 'request', api_key=18,
    valid='0-5', flexible='3+',
    fields=(
        Field('ClientSoftwareName', 'string', '3+', ignorable=True),
        Field('ClientSoftwareVersion', 'string', '3+', ignorable=True),
        Field('ClusterId', 'string', '5+', nullable='5+', default='null', ignorable=True),
        Field('NodeId', 'int32', '5+', default='-1', ignorable=True),
    ),
)

API_VERSIONS_RESPONSE = MessageSchema(
    'ApiVersionsResponse', 'response', api_key=18,
    valid='0-5', flexible='3+',
    fields=(
        Field('ErrorCode', 'int16', '0+'),
        Field('ApiKeys', '[]ApiVersion', '0+', fields=(
            Field('ApiKey', 'int16', '0+'),
            Field('MinVersion', 'int16', '0+'),
            Field('MaxVersion', 'int16', '0+'),
        )),
        Field('ThrottleTimeMs', 'int32', '1+', ignorable=True),
        Field('SupportedFeatures', '[]SupportedFeatureKey', '3+', tag=0, tagged='3+', ignorable=True, fields=(
            Field('Name', 'string', '3+'),
            Field('MinVersion', 'int16', '3+'),
            Field('MaxVersion', 'int16', '3+'),
        )),
        Field('FinalizedFeaturesEpoch', 'int64', '3+', default='-1', tag=1, tagged='3+', ignorable=True),
        Field('FinalizedFeatures', '[]FinalizedFeatureKey', '3+', tag=2, tagged='3+', ignorable=True, fields=(
            Field('Name', 'string', '3+'),
            Field('MaxVersionLevel', 'int16', '3+'),
            Field('MinVersionLevel', 'int16', '3+'),
        )),
        Field('ZkMigrationReady', 'bool', '3+', default='false', tag=3, tagged='3+', ignorable=True),
    ),
)

