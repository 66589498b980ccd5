"""AddRaftVoter (API key 80).

Transcribed from Kafka 3.9.0's message definitions into our table form; v1
(KIP-1186, Kafka 4.2: ``AckWhenCommitted``; the response is unchanged) from
Kafka 4.3.1's AddRaftVoterRequest.json / AddRaftVoterResponse.json."""
from kraft.protocol.schema import Field, MessageSchema

ADD_RAFT_VOTER_REQUEST = MessageSchema(
    'AddRaftVoterRequest', 'request', api_key=80,
    valid='0-1', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0+', nullable='0+'),
        Field('TimeoutMs', 'int32', '0+'),
        Field('VoterId', 'int32', '0+'),
        Field('VoterDirectoryId', 'uuid', '0+'),
        Field('Listeners', '[]Listener', '0+', fields=(
            Field('Name', 'string', '0+'),
            Field('Host', 'string', '0+'),
            Field('Port', 'uint16', '0+'),
        )),
        Field('AckWhenCommitted', 'bool', '1+', default='true'),
    ),
)

ADD_RAFT_VOTER_RESPONSE = MessageSchema(
    'AddRaftVoterResponse', 'response', api_key=80,
    valid='0-1', flexible='0+',
    fields=(
        Field('ThrottleTimeMs', 'int32', '0+'),
        Field('ErrorCode', 'int16', '0+'),
        Field('ErrorMessage', 'string', '0+', nullable='0+', ignorable=True),
    ),
)

