"""UpdateRaftVoter (API key 82).

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema

UPDATE_RAFT_VOTER_REQUEST = MessageSchema(
    'UpdateRaftVoterRequest', 'request', api_key=82,
    valid='0', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0+', nullable='0+'),
        Field('CurrentLeaderEpoch', 'int32', '0+'),
        Field('VoterId', 'int32', '0+'),
        Field('VoterDirectoryId', 'uuid', '0+'),
        Field('Listeners', '[]Listener', '0+', fields=(
            Field('Name', 'string', '0+'),
            Field('Host', 'string', '0+'),
            Field('Port', 'uint16', '0+'),
        )),
        Field('KRaftVersionFeature', 'KRaftVersionFeature', '0+', fields=(
            Field('MinSupportedVersion', 'int16', '0+'),
            Field('MaxSupportedVersion', 'int16', '0+'),
        )),
    ),
)

UPDATE_RAFT_VOTER_RESPONSE = MessageSchema(
    'UpdateRaftVoterResponse', 'response', api_key=82,
    valid='0', flexible='0+',
    fields=(
        Field('ThrottleTimeMs', 'int32', '0+'),
        Field('ErrorCode', 'int16', '0+'),
        Field('CurrentLeader', 'CurrentLeader', '0+', tag=0, tagged='0+', fields=(
            Field('LeaderId', 'int32', '0+', default='-1'),
            Field('LeaderEpoch', 'int32', '0+', default='-1'),
            Field('Host', 'string', '0+'),
            Field('Port', 'int32', '0+'),
        )),
    ),
)

# The request as it was at the reference revision adee6f0cc11 (before Kafka
# 3.9.0 added CurrentLeaderEpoch and made ClusterId nullable).  The 3.9.0
# response schema reads that revision's responses unchanged (its only
# addition is a tagged field), so only the request needs a legacy form.
UPDATE_RAFT_VOTER_REQUEST_ADEE = MessageSchema(
    'UpdateRaftVoterRequest', 'request', api_key=82,
    valid='0', flexible='0+',
    fields=(
        Field('ClusterId', 'string', '0+'),
        Field('VoterId', 'int32', '0+'),
        Field('VoterDirectoryId', 'uuid', '0+'),
        Field('Listeners', '[]Listener', '0+', fields=(
            Field('Name', 'string', '0+'),
            Field('Host', 'string', '0+'),
            Field('Port', 'uint16', '0+'),
        )),
        Field('KRaftVersionFeature', 'KRaftVersionFeature', '0+', fields=(
            Field('MinSupportedVersion', 'int16', '0+'),
            Field('MaxSupportedVersion', 'int16', '0+'),
        )),
    ),
)
