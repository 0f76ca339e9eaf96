"""Sans-IO protocol engines: bytes in, typed events out, bytes out.

Nothing here touches a socket or a clock, so a conversation can be stepped,
replayed and inspected one wire write at a time.
"""
