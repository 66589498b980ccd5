"""The Raft state machine.

Pure: nothing under this package imports socket, asyncio, time, random or os.
Clock, randomness, network and log come in as inputs; persistence, appends,
truncations, sends and commits go out as effects for a driver to apply.
"""
