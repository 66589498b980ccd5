"""Request and response headers.

Transcribed from Kafka 3.9.0's message definitions into our table form."""
from kraft.protocol.schema import Field, MessageSchema

REQUEST_HEADER = MessageSchema(
    'RequestHeader', 'header',
    valid='0-2', flexible='2+',
    fields=(
        Field('RequestApiKey', 'int16', '0+'),
        Field('RequestApiVersion', 'int16', '0+'),
        Field('CorrelationId', 'int32', '0+'),
        Field('ClientId', 'string', '1+', nullable='1+', ignorable=True, flexible='none'),
    ),
)

RESPONSE_HEADER = MessageSchema(
    'ResponseHeader', 'header',
    valid='0-1', flexible='1+',
    fields=(
        Field('CorrelationId', 'int32', '0+'),
    ),
)

