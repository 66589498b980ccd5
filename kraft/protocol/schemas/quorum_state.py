"""QuorumStateData: the content of the quorum-state file (written as JSON).

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema

QUORUM_STATE_DATA = MessageSchema(
    'QuorumStateData', 'data',
    valid='0-1', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0'),
        Field('LeaderId', 'int32', '0+', default='-1'),
        Field('LeaderEpoch', 'int32', '0+', default='-1'),
        Field('VotedId', 'int32', '0+', default='-1'),
        Field('VotedDirectoryId', 'uuid', '1+'),
        Field('AppliedOffset', 'int64', '0'),
        Field('CurrentVoters', '[]Voter', '0', nullable='0', fields=(
            Field('VoterId', 'int32', '0'),
        )),
    ),
)

