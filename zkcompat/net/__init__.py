"""The Twisted edge: bytes in, bytes out.  No ZooKeeper rule lives here."""
