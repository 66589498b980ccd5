"""The server around the Raft core: configuration, the node's network, and the driver."""
