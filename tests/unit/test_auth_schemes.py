"""The x509 ACL scheme in the core, and the zoo.cfg keys of TLS, SASL and authentication providers."""

from __future__ import annotations

from protocol import records
from protocol.codes import Err, OpCode
from tests.unit.corekit import CoreClient, make_server
from zkcompat.core.auth import X509AuthProvider

DN = "CN=client,O=zkcompat tests"


def connected(server, dn=None):
    c = CoreClient(server)
    if dn is not None:
        c.conn.add_x509_identity(dn)  # what the edge does after a verified TLS handshake
    c.connect()
    return c


def who_am_i(c):
    return [(i.auth_scheme, i.user) for i in c.call(OpCode.WHO_AM_I, None, records.WhoAmIResponse)[1].client_info]


def test_x509_id_grants_its_acl():
    server, _ = make_server(secure_client_port=0)
    tls = connected(server, DN)
    assert who_am_i(tls) == [("x509", DN), ("ip", "127.0.0.1")]
    assert tls.create("/n", b"x", acl=[records.ACL(31, records.Id("x509", DN))])[0] == 0
    assert tls.get_data("/n")[0] == 0
    assert connected(server).get_data("/n")[0] == Err.NOAUTH
    assert connected(server, "CN=other").get_data("/n")[0] == Err.NOAUTH


def test_without_a_secure_port_there_is_no_x509_scheme():
    server, _ = make_server()
    c = connected(server, DN)
    assert who_am_i(c) == [("ip", "127.0.0.1")]
    assert c.create("/n", acl=[records.ACL(31, records.Id("x509", DN))])[0] == Err.INVALIDACL


def test_x509_super_user():
    """X509AuthenticationProvider.superUser: that subject also gets super (with its name as the id)."""
    server, _ = make_server(secure_client_port=0, x509_super_user="CN=admin")
    owner = connected(server, DN)
    assert owner.create("/n", acl=[records.ACL(31, records.Id("x509", DN))])[0] == 0
    admin = connected(server, "CN=admin")
    assert ("super", "") in who_am_i(admin)  # no provider for "super": whoAmI shows no user
    assert admin.get_data("/n")[0] == 0


def test_x509_ids_are_validated_as_x500_names():
    p = X509AuthProvider()
    assert p.is_valid(DN) and p.is_valid("") and p.is_valid("CN=a+OU=b;2.5.4.3=c") and p.is_valid(r"CN=a\,b")
    assert not p.is_valid("not a name") and not p.is_valid("CN=a,junk")


def test_an_auth_packet_cannot_claim_x509():
    server, _ = make_server(secure_client_port=0)
    c = connected(server)
    assert c.auth("x509", DN.encode()).err == Err.AUTHFAILED and c.closed


def test_zoo_cfg_security_keys():
    import pytest

    from zkcompat.config import ConfigError, config_from_properties

    cfg = config_from_properties({
        "secureClientPort": "2281", "secureClientPortAddress": "127.0.0.1", "ssl.keyStore.location": "/k.pem",
        "ssl.keyStore.type": "PEM", "ssl.clientAuth": "WANT", "zookeeper.ssl.trustStore.location": "/t.pem",
        "authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider", "superUser": "admin",
        "X509AuthenticationProvider.superUser": "CN=admin", "allowSaslFailedClients": "true"})
    assert (cfg.secure_client_port, cfg.secure_client_port_address, cfg.ssl_client_auth) == (2281, "127.0.0.1", "want")
    assert (cfg.ssl_key_store_location, cfg.ssl_trust_store_location) == ("/k.pem", "/t.pem")
    assert cfg.sasl_provider_enabled and cfg.sasl_super_users == ("admin",) and cfg.allow_sasl_failed_clients
    assert cfg.x509_super_user == "CN=admin"
    assert config_from_properties({}).ssl_client_auth == "need"
    with pytest.raises(ConfigError):
        config_from_properties({"ssl.clientAuth": "sometimes"})
    with pytest.raises(ConfigError):
        config_from_properties({"secureClientPortAddress": "127.0.0.1"})


def test_jaas_section_from_zoo_cfg(tmp_path):
    from zkcompat.config import config_from_properties, load_jaas

    jaas = tmp_path / "jaas.conf"
    jaas.write_text('Other { m required user_bob="pw"; };')
    cfg = config_from_properties({"sasl.serverconfig": "Other"})
    load_jaas(cfg, jaas)
    assert cfg.sasl_users == {"bob": "pw"}


def test_enforced_schemes_must_have_providers():
    import pytest

    from zkcompat.config import ConfigError, config_from_properties

    sasl = {"authProvider.1": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"}
    assert config_from_properties(dict(sasl, sessionRequireClientSASLAuth="true")).enforced_auth_schemes == {"sasl"}
    cfg = config_from_properties({"enforce.auth.enabled": "true", "enforce.auth.schemes": "digest, ip"})
    assert cfg.enforced_auth_schemes == {"digest", "ip"}
    assert config_from_properties({"enforce.auth.schemes": "digest"}).enforced_auth_schemes is None
    for bad in ({"sessionRequireClientSASLAuth": "true"}, {"enforce.auth.enabled": "true"},
                {"enforce.auth.enabled": "true", "enforce.auth.schemes": "x509"}):
        with pytest.raises(ConfigError):
            config_from_properties(bad)
