"""The settings the core runs with (parsed from zoo.cfg by zkcompat.config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.codes import JUTE_MAXBUFFER_DEFAULT

FOUR_LETTER_WORDS = (
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst",
    "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
)


PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


@dataclass(frozen=True)
class QuorumServer:
    """One ``server.N=host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]`` line."""

    sid: int
    host: str
    quorum_port: int
    election_port: int
    role: str = "participant"
    client_host: str | None = None
    client_port: int | None = None

    @classmethod
    def parse(cls, sid: int, value: str) -> QuorumServer:
        addr, _, client = value.partition(";")
        parts = addr.strip().split(":")
        if len(parts) < 3 or len(parts) > 4:
            raise ValueError("server.%d=%s: expected host:quorumPort:electionPort[:role]" % (sid, value))
        role = parts[3].strip().lower() if len(parts) == 4 else "participant"
        if role not in ("participant", "observer"):
            raise ValueError("server.%d: unknown role %r" % (sid, role))
        client_host, client_port = None, None
        if client.strip():
            host_port = client.strip()
            if ":" in host_port:
                client_host, _, port_s = host_port.rpartition(":")
            else:
                port_s = host_port
            client_port = int(port_s)
        return cls(sid, parts[0].strip(), int(parts[1]), int(parts[2]), role, client_host, client_port)


@dataclass
class ServerConfig:
    tick_time_ms: int = 2000
    min_session_timeout_ms: int = -1  # -1: 2 ticks (ZooKeeperServer)
    max_session_timeout_ms: int = -1  # -1: 20 ticks
    max_client_cnxns: int = 60
    jute_maxbuffer: int = JUTE_MAXBUFFER_DEFAULT
    extended_types: bool = False
    super_digest: str | None = None
    four_letter_words: frozenset = field(default_factory=lambda: frozenset({"srvr"}))
    server_id: int = 0
    client_port: int = 2181
    client_port_address: str | None = None
    data_dir: str | None = None
    data_log_dir: str | None = None
    container_check_interval_ms: int = 60000
    container_max_per_minute: int = 10000
    container_max_never_used_interval_ms: int = 0
    reconfig_enabled: bool = False
    # zookeeper.enforceQuota (3.7+): hard quota limits refuse writes with QUOTAEXCEEDED
    enforce_quota: bool = False
    skip_acl: bool = False
    client_port_listen_backlog: int = -1
    force_sync: bool = True
    snap_count: int = 100000
    autopurge_snap_retain_count: int = 3
    autopurge_purge_interval_hours: int = 0
    # the ensemble (zoo.cfg server.N lines); empty: standalone
    servers: dict = field(default_factory=dict)  # sid -> QuorumServer
    init_limit: int = 10
    sync_limit: int = 5
    peer_type: str = "participant"
    # authentication providers beyond ip and digest (zoo.cfg authProvider.N class names)
    auth_providers: tuple = ()
    # SASL (opcode 102): the DIGEST-MD5 users of the JAAS Server section; None: no JAAS
    # configuration, so the server has no SASL mechanism (ZooKeeper's saslServer is null)
    sasl_users: dict | None = None
    sasl_login_context: str = "Server"  # zookeeper.sasl.serverconfig: the JAAS section to read
    sasl_super_users: tuple = ()  # zookeeper.superUser[.N]
    sasl_super_password: str | None = None  # zookeeper.SASLAuthenticationProvider.superPassword
    allow_sasl_failed_clients: bool = False  # zookeeper.allowSaslFailedClients
    let_any_sasl_user_do_x: str | None = None  # zookeeper.letAnySaslUserDoX
    # AuthenticationHelper: a connection without an id of these schemes is closed at its first request
    enforce_auth_enabled: bool = False  # zookeeper.enforce.auth.enabled
    enforce_auth_schemes: tuple = ()  # zookeeper.enforce.auth.schemes
    session_require_client_sasl_auth: bool = False  # zookeeper.sessionRequireClientSASLAuth: enforce sasl
    # the TLS client port (zoo.cfg secureClientPort, ssl.*): read by zkcompat.net.tls only.
    # The key store is a PEM file holding the private key and its certificate chain, the
    # trust store a PEM file of CA certificates (ssl.keyStore.type=PEM in ZooKeeper 3.8).
    secure_client_port: int | None = None
    secure_client_port_address: str | None = None
    ssl_key_store_location: str | None = None
    ssl_key_store_password: str | None = None
    ssl_key_store_type: str | None = None
    ssl_trust_store_location: str | None = None
    ssl_trust_store_password: str | None = None
    ssl_trust_store_type: str | None = None
    ssl_client_auth: str = "need"  # none | want | need (X509Util.ClientAuth, default NEED)
    ssl_protocol: str = "TLSv1.2"  # X509Util.DEFAULT_PROTOCOL
    x509_super_user: str | None = None  # zookeeper.X509AuthenticationProvider.superUser
    # AdminServer (admin.*): JSON commands over HTTP, on by default as in ZooKeeper
    admin_enable_server: bool = True
    admin_server_address: str = "0.0.0.0"
    admin_server_port: int = 8080
    admin_command_url: str = "/commands"
    # metricsProvider.*: Prometheus /metrics when className names ZooKeeper's Prometheus provider
    metrics_provider_class: str | None = None
    metrics_http_host: str = "0.0.0.0"
    metrics_http_port: int = 7000
    # the zoo.cfg text the server started from (AdminServer initial_configuration)
    initial_config: str | None = None

    @property
    def enforced_auth_schemes(self) -> frozenset | None:
        """The schemes a connection needs before its requests are served; None: not enforced."""
        if self.session_require_client_sasl_auth:
            return frozenset({"sasl"})
        if self.enforce_auth_enabled:
            return frozenset(self.enforce_auth_schemes)
        return None

    @property
    def sasl_provider_enabled(self) -> bool:
        return "org.apache.zookeeper.server.auth.SASLAuthenticationProvider" in self.auth_providers

    @property
    def prometheus_enabled(self) -> bool:
        return self.metrics_provider_class == PROMETHEUS_PROVIDER

    @property
    def is_ensemble(self) -> bool:
        return bool(self.servers)

    @property
    def min_session_timeout(self) -> int:
        return self.min_session_timeout_ms if self.min_session_timeout_ms != -1 else 2 * self.tick_time_ms

    @property
    def max_session_timeout(self) -> int:
        return self.max_session_timeout_ms if self.max_session_timeout_ms != -1 else 20 * self.tick_time_ms

    @staticmethod
    def parse_whitelist(value: str | None, readonly_mode: bool = False) -> frozenset:
        """FourLetterCommands.isEnabled: comma list, '*' for all; srvr is always on."""
        enabled = set()
        for cmd in (value or "").split(","):
            cmd = cmd.strip()
            if cmd == "*":
                enabled.update(FOUR_LETTER_WORDS)
                break
            if cmd:
                enabled.add(cmd)
        if readonly_mode:
            enabled.add("isro")
        enabled.add("srvr")
        return frozenset(enabled)
