"""zoo.cfg, read as Apache ZooKeeper reads it (QuorumPeerConfig.parseProperties).

The file is a Java properties file.  Known keys keep ZooKeeper's meaning.  Keys
that ZooKeeper reads as Java system properties (extendedTypesEnabled,
DigestAuthenticationProvider.superDigest, jute.maxbuffer,
znode.container.checkIntervalMs, enforceQuota, ...) are accepted here with or without their
``zookeeper.`` prefix, so one file configures both servers alike.
"""

from __future__ import annotations

import logging
from pathlib import Path

from zkcompat.core.config import QuorumServer, ServerConfig

log = logging.getLogger("zkcompat.config")


class ConfigError(ValueError):
    pass


def parse_properties(text: str) -> dict[str, str]:
    """java.util.Properties.load, for the forms zoo.cfg files use."""
    props: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].lstrip()
        i += 1
        if not line or line[0] in "#!":
            continue
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):
            line = line[:-1] + lines[i].lstrip()
            i += 1
        key_end = len(line)
        for j, ch in enumerate(line):
            if ch in "=: \t":
                key_end = j
                break
        key = line[:key_end]
        rest = line[key_end:].lstrip(" \t")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t")
        props[key] = rest
    return props


def _bool(v: str) -> bool:
    return v.strip().lower() == "true"


def _int(key: str, v: str) -> int:
    try:
        return int(v.strip())
    except ValueError:
        raise ConfigError("%s: not an integer: %r" % (key, v))


def config_from_properties(props: dict[str, str]) -> ServerConfig:
    cfg = ServerConfig()
    whitelist = None
    readonly = False
    for raw_key, value in props.items():
        key = raw_key[len("zookeeper."):] if raw_key.startswith("zookeeper.") else raw_key
        value = value.strip()
        if key == "tickTime":
            cfg.tick_time_ms = _int(key, value)
        elif key == "minSessionTimeout":
            cfg.min_session_timeout_ms = _int(key, value)
        elif key == "maxSessionTimeout":
            cfg.max_session_timeout_ms = _int(key, value)
        elif key == "maxClientCnxns":
            cfg.max_client_cnxns = _int(key, value)
        elif key == "clientPort":
            cfg.client_port = _int(key, value)
        elif key == "clientPortAddress":
            cfg.client_port_address = value
        elif key == "dataDir":
            cfg.data_dir = value
        elif key == "dataLogDir":
            cfg.data_log_dir = value
        elif key == "4lw.commands.whitelist":
            whitelist = value
        elif key == "extendedTypesEnabled":
            cfg.extended_types = _bool(value)
        elif key == "DigestAuthenticationProvider.superDigest":
            cfg.super_digest = value
        elif key == "jute.maxbuffer":
            cfg.jute_maxbuffer = _int(key, value)
        elif key == "znode.container.checkIntervalMs":
            cfg.container_check_interval_ms = _int(key, value)
        elif key == "znode.container.maxPerMinute":
            cfg.container_max_per_minute = _int(key, value)
        elif key == "znode.container.maxNeverUsedIntervalMs":
            cfg.container_max_never_used_interval_ms = _int(key, value)
        elif key == "enforceQuota":
            cfg.enforce_quota = _bool(value)
        elif key == "reconfigEnabled":
            cfg.reconfig_enabled = _bool(value)
        elif key == "skipACL":
            cfg.skip_acl = value.strip().lower() == "yes"
        elif key == "readonlymode.enabled":
            readonly = _bool(value)
        elif key == "forceSync":
            cfg.force_sync = value.strip().lower() != "no"
        elif key == "snapCount":
            cfg.snap_count = _int(key, value)
        elif key == "autopurge.snapRetainCount":
            cfg.autopurge_snap_retain_count = _int(key, value)
        elif key == "autopurge.purgeInterval":
            cfg.autopurge_purge_interval_hours = _int(key, value)
        elif key == "clientPortListenBacklog":
            cfg.client_port_listen_backlog = _int(key, value)
        elif key.startswith("server.") and key[7:].isdigit():
            sid = int(key[7:])
            try:
                cfg.servers[sid] = QuorumServer.parse(sid, value)
            except ValueError as e:
                raise ConfigError(str(e))
        elif key == "initLimit":
            cfg.init_limit = _int(key, value)
        elif key == "syncLimit":
            cfg.sync_limit = _int(key, value)
        elif key == "peerType":
            cfg.peer_type = value.strip().lower()
        elif key == "standaloneEnabled":
            pass
        elif _security_key(cfg, key, value):
            pass
        elif key == "admin.enableServer":
            cfg.admin_enable_server = _bool(value)
        elif key == "admin.serverAddress":
            cfg.admin_server_address = value
        elif key == "admin.serverPort":
            cfg.admin_server_port = _int(key, value)
        elif key == "admin.commandURL":
            cfg.admin_command_url = value
        elif key == "metricsProvider.className":
            cfg.metrics_provider_class = value
        elif key == "metricsProvider.httpHost":
            cfg.metrics_http_host = value
        elif key == "metricsProvider.httpPort":
            cfg.metrics_http_port = _int(key, value)
        else:
            log.info("zoo.cfg key %s is not used by zkcompat", raw_key)
    cfg.four_letter_words = ServerConfig.parse_whitelist(whitelist, readonly)
    if cfg.secure_client_port_address is not None and cfg.secure_client_port is None:
        raise ConfigError("secureClientPortAddress is set but secureClientPort is not set")
    check_enforced_auth(cfg)
    if cfg.extended_types and cfg.server_id > 254:
        raise ConfigError("extendedTypesEnabled is true but the server id is larger than 254")
    return cfg


_SSL_KEYS = {
    "secureClientPortAddress": "secure_client_port_address",
    "ssl.keyStore.location": "ssl_key_store_location",
    "ssl.keyStore.password": "ssl_key_store_password",
    "ssl.keyStore.type": "ssl_key_store_type",
    "ssl.trustStore.location": "ssl_trust_store_location",
    "ssl.trustStore.password": "ssl_trust_store_password",
    "ssl.trustStore.type": "ssl_trust_store_type",
    "ssl.protocol": "ssl_protocol",
    "SASLAuthenticationProvider.superPassword": "sasl_super_password",
    "letAnySaslUserDoX": "let_any_sasl_user_do_x",
    "X509AuthenticationProvider.superUser": "x509_super_user",
    "sasl.serverconfig": "sasl_login_context",
}


def _security_key(cfg: ServerConfig, key: str, value: str) -> bool:
    """The TLS client port, authentication providers and SASL keys; False: not one of them."""
    if key == "secureClientPort":
        cfg.secure_client_port = _int(key, value)
    elif key in _SSL_KEYS:
        setattr(cfg, _SSL_KEYS[key], value)
    elif key == "ssl.clientAuth":
        mode = value.lower() or "need"  # X509Util.ClientAuth.fromPropertyValue: empty is NEED
        if mode not in ("none", "want", "need"):
            raise ConfigError("ssl.clientAuth: expected none, want or need, not %r" % value)
        cfg.ssl_client_auth = mode
    elif key.startswith("authProvider."):
        cfg.auth_providers = cfg.auth_providers + (value,)
    elif key == "superUser" or key.startswith("superUser."):
        cfg.sasl_super_users = cfg.sasl_super_users + (value,)
    elif key == "allowSaslFailedClients":
        cfg.allow_sasl_failed_clients = _bool(value)
    elif key == "enforce.auth.enabled":
        cfg.enforce_auth_enabled = _bool(value)
    elif key == "enforce.auth.schemes":
        cfg.enforce_auth_schemes = tuple(s.strip() for s in value.split(","))
    elif key == "sessionRequireClientSASLAuth":
        cfg.session_require_client_sasl_auth = _bool(value)
    else:
        return False
    return True


def check_enforced_auth(cfg: ServerConfig) -> None:
    """AuthenticationHelper.validateConfiguredProperties: every enforced scheme has a provider."""
    schemes = cfg.enforced_auth_schemes
    if schemes is None:
        return
    if not cfg.enforce_auth_schemes and not cfg.session_require_client_sasl_auth:
        raise ConfigError("zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be  configured.")
    available = {"ip", "digest"}
    if cfg.sasl_provider_enabled:
        available.add("sasl")
    if cfg.secure_client_port is not None:
        available.add("x509")
    missing = sorted(schemes - available)
    if missing:
        raise ConfigError("Authentication scheme %s is not available." % missing[0])


def load_jaas(cfg: ServerConfig, path: str | Path, section: str | None = None) -> None:
    """Read the DIGEST-MD5 users of a JAAS file's section into ``cfg.sasl_users``.

    The section is ``Server`` unless zoo.cfg names another with ``sasl.serverconfig``
    (ZooKeeper's system property zookeeper.sasl.serverconfig).
    """
    section = section or cfg.sasl_login_context
    from zkcompat.core.sasl import jaas_digest_users

    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError("cannot read the JAAS configuration %s: %s" % (path, e))
    try:
        cfg.sasl_users = jaas_digest_users(text, section)
    except ValueError as e:
        raise ConfigError("%s: %s" % (path, e))


def load_config(path: str | Path) -> ServerConfig:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError("cannot read %s: %s" % (path, e))
    cfg = config_from_properties(parse_properties(text))
    cfg.initial_config = text
    return cfg
