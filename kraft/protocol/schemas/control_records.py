"""Control-record payloads: leader change, snapshot header/footer, kraft.version, voters.

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema, StructSchema

LEADER_CHANGE_MESSAGE = MessageSchema(
    'LeaderChangeMessage', 'data',
    valid='0-1', flexible='0+',
    fields=(
        Field('Version', 'int16', '0+'),
        Field('LeaderId', 'int32', '0+'),
        Field('Voters', '[]Voter', '0+'),
        Field('GrantingVoters', '[]Voter', '0+'),
    ),
    common_structs=(
        StructSchema('Voter', '0+', fields=(
            Field('VoterId', 'int32', '0+'),
            Field('VoterDirectoryId', 'uuid', '1+'),
        )),
    ),
)

SNAPSHOT_HEADER_RECORD = MessageSchema(
    'SnapshotHeaderRecord', 'data',
    valid='0', flexible='0+',
    fields=(
        Field('Version', 'int16', '0+'),
        Field('LastContainedLogTimestamp', 'int64', '0+'),
    ),
)

SNAPSHOT_FOOTER_RECORD = MessageSchema(
    'SnapshotFooterRecord', 'data',
    valid='0', flexible='0+',
    fields=(
        Field('Version', 'int16', '0+'),
    ),
)

KRAFT_VERSION_RECORD = MessageSchema(
    'KRaftVersionRecord', 'data',
    valid='0', flexible='0+',
    fields=(
        Field('Version', 'int16', '0+'),
        Field('KRaftVersion', 'int16', '0+'),
    ),
)

VOTERS_RECORD = MessageSchema(
    'VotersRecord', 'data',
    valid='0', flexible='0+',
    fields=(
        Field('Version', 'int16', '0+'),
        Field('Voters', '[]Voter', '0+', fields=(
            Field('VoterId', 'int32', '0+'),
            Field('VoterDirectoryId', 'uuid', '0+'),
            Field('Endpoints', '[]Endpoint', '0+', fields=(
                Field('Name', 'string', '0+'),
                Field('Host', 'string', '0+'),
                Field('Port', 'uint16', '0+'),
            )),
            Field('KRaftVersionFeature', 'KRaftVersionFeature', '0+', fields=(
                Field('MinSupportedVersion', 'int16', '0+'),
                Field('MaxSupportedVersion', 'int16', '0+'),
            )),
        )),
    ),
)

