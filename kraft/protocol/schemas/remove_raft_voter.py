"""RemoveRaftVoter (API key 81).

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema

REMOVE_RAFT_VOTER_REQUEST = MessageSchema(
    'RemoveRaftVoterRequest', 'request', api_key=81,
    valid='0', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0+', nullable='0+'),
        Field('VoterId', 'int32', '0+'),
        Field('VoterDirectoryId', 'uuid', '0+'),
    ),
)

REMOVE_RAFT_VOTER_RESPONSE = MessageSchema(
    'RemoveRaftVoterResponse', 'response', api_key=81,
    valid='0', flexible='0+',
    fields=(
        Field('ThrottleTimeMs', 'int32', '0+'),
        Field('ErrorCode', 'int16', '0+'),
        Field('ErrorMessage', 'string', '0+', nullable='0+', ignorable=True),
    ),
)

