"""The Raft state machine.

Pure: nothing under this package imports socket, asyncio, time, random or os.
Clock, randomness, network and log come in as inputs; persistence, appends,
truncations, sends and commits go out as effects for a driver to apply.

Modules:

* ``node`` — :class:`~kraft.core.node.RaftNode`, the coordinator: state, role transitions,
  ``start``/``step``/``poll`` -> ``Output``, snapshot-id validation (``create_snapshot``), the
  once-a-minute ``CleanLog`` and fast failover (``PeerUnreachable``).
* ``rpcs`` — one module per RPC, both sides: ``vote``, ``quorum_epoch`` (Begin/EndQuorumEpoch),
  ``fetch`` (parked fetches, the high-watermark rule), ``fetch_snapshot``, ``describe_quorum``,
  and ``common`` for the checks every RPC shares.
* ``behaviour`` — the two wire behaviours, ``KAFKA_3_9`` and ``REFERENCE_REVISION``.
* ``roles`` — one class per role and the transition table (``TRANSITIONS``).
* ``effects`` — the events handed in and the effects handed out.
* ``rpc`` — version-independent request/response types; ``choose_version``.
* ``quorum`` — timeouts, backoffs and the high-watermark rule as pure functions.
* ``request_manager`` — per-destination in-flight requests, timeouts, backoff.
* ``accumulator`` — the leader's batch accumulator (linger, size limit, atomic appends).
* ``batches`` — reading record batch v2 headers of fetched data.
* ``apply`` — applying an ``Output`` to a log, a quorum-state store and a transport.
* ``config`` — ``QuorumConfig`` for the ``controller.quorum.*`` keys (and ``kraft.quorum.fast.failover``).
* ``memory`` — an in-memory ``ReplicatedLog`` for tests, the simulator and benchmarks.
* ``log``, ``types``, ``errors`` — the log contract, value types, exceptions.
"""
