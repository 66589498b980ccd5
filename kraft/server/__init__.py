"""The server around the Raft core: configuration and (later) the node driver."""
