"""An in-memory, contract-tested fake of the OMERO gateway surface the plugins use.

    from omero_test_double import FakeOmero
    omero = FakeOmero()
    lab = omero.add_group("lab", permissions="read-annotate")
    alice = omero.add_user("alice", groups=[lab])
    conn = omero.connect("alice")

See README.md for the API and what the fake covers.
"""

from .calls import CallCounter
from .gateway import FakeBlitzGateway
from .permissions import LEVELS, allowed
from .store import FakeOmero, Group, Link, Record, User

__all__ = ["LEVELS", "CallCounter", "FakeBlitzGateway", "FakeOmero", "Group", "Link", "Record",
           "User", "allowed"]
