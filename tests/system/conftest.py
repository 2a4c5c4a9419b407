"""The verification of the host `make up` converged (the README's main command, which `bin/test
system` runs twice before these tests). By hand, against a running demo:
    .venv/bin/pytest tests/system --hosts=ssh://10.231.0.50 --ssh-config=artifacts/logs/demo-ssh-config
(the ssh config bin/test writes: user root, the lab's key, no known-hosts file)
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "molecule" / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from demohost import INVENTORY

# The shared helpers (webhost.put_private_file) reach hosts through this inventory.
os.environ.setdefault("OAE_INVENTORY", INVENTORY)


def pytest_collection_modifyitems(items):
    """The operator's view first: later modules kill, restart and reboot services on purpose."""
    items.sort(key=lambda item: item.path.name != "test_operator.py")
