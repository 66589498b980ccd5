"""Kafka's TCP transport for KRaft: framing, acceptors, outbound connections."""
