import psycopg2
import pytest
from cryptography.fernet import Fernet

from omero_plugin_common import secret_store
from omero_plugin_common.config import common_settings
from omero_test_double.harness.fixtures import plugin_dsn


@pytest.fixture
def keys(monkeypatch):
    """Set OMERO_PLUGINS_SECRET_KEYS for one test."""

    def use(*keys):
        monkeypatch.setenv("OMERO_PLUGINS_SECRET_KEYS", ",".join(k.decode() for k in keys))
        common_settings.cache_clear()

    yield use
    monkeypatch.undo()
    common_settings.cache_clear()


def raw_token(name):
    with psycopg2.connect(plugin_dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT token FROM plugin_user_secrets WHERE name = %s", (name,))
        return bytes(cur.fetchone()[0])


def test_round_trip_and_no_plaintext_in_the_database():
    secret_store.put("omeroweb_omp_plugin", "alice", "groq", "sk-live-123")
    assert secret_store.get("omeroweb_omp_plugin", "alice", "groq") == "sk-live-123"
    assert b"sk-live-123" not in raw_token("groq")
    assert secret_store.get("omeroweb_omp_plugin", "bob", "groq") is None
    secret_store.put("omeroweb_omp_plugin", "alice", "groq", "sk-live-456")
    assert secret_store.names("omeroweb_omp_plugin", "alice") == ["groq"]
    assert secret_store.get("omeroweb_omp_plugin", "alice", "groq") == "sk-live-456"
    assert secret_store.delete("omeroweb_omp_plugin", "alice") == 1


def test_key_rotation(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    secret_store.put("p", "alice", "rotated", "v1")
    keys(new, old)  # new key first: old tokens still decrypt
    assert secret_store.get("p", "alice", "rotated") == "v1"
    assert secret_store.rotate_all() >= 1
    keys(new)  # old key retired after rotation
    assert secret_store.get("p", "alice", "rotated") == "v1"
    keys(old)
    unreadable = r"omero_web_plugins_settings\.OMERO_PLUGINS_SECRET_KEYS"
    with pytest.raises(secret_store.SecretUnreadable, match=unreadable):
        secret_store.get("p", "alice", "rotated")
    secret_store.delete("p", "alice")


def test_tampered_token_is_refused():
    secret_store.put("p", "carol", "tampered", "v")
    token = bytearray(raw_token("tampered"))
    token[-5] ^= 1
    with psycopg2.connect(plugin_dsn()) as conn, conn.cursor() as cur:
        cur.execute("UPDATE plugin_user_secrets SET token = %s WHERE name = 'tampered'",
                    (bytes(token),))
    with pytest.raises(secret_store.SecretUnreadable):
        secret_store.get("p", "carol", "tampered")
