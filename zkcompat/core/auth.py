"""ACLs and authentication: the providers, the ACL check and ACL fix-up.

Mirrors ZooKeeper's ProviderRegistry, IPAuthenticationProvider,
DigestAuthenticationProvider, ZooKeeperServer.checkACL and
PrepRequestProcessor.fixupACL:

- every connection starts authenticated as ``ip:<its address>``; ``addauth
  digest user:password`` adds ``digest:user:base64(sha1(user:password))`` and,
  when that digest equals the configured superDigest, ``super:`` first;
- an ACL entry grants ``perm`` when ``acl.perms & perm`` is non-zero and its id
  is world:anyone or matches one of the connection's ids of the same scheme;
  a ``super`` id bypasses every check; an empty or missing ACL allows all;
- ``sasl`` (SASLAuthenticationProvider, when zoo.cfg names it in ``authProvider.N``)
  and ``x509`` (X509AuthenticationProvider, when a secure client port is
  configured) are ids the connection gains from a SASL exchange or a verified
  TLS client certificate, never from an AuthPacket;
- on create/setACL the ``auth`` scheme expands to every authenticated id of the
  caller (ip is not "authenticated"), duplicates are dropped, and an unknown
  scheme or an invalid id is INVALIDACL.

A connection's ids are kept in the iteration order of the Java
``ConcurrentHashMap<Id,Boolean>`` ZooKeeper keeps them in, because whoAmI
returns them in that order.
"""

from __future__ import annotations

import base64
import hashlib
import re

from protocol.codes import Err, Perms
from protocol.records import ACL, ClientInfo, Id

from .errors import KeeperError
from .javahash import JavaHashSet, jute_id_hash

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")


def java_split(s: str, sep: str, limit: int = 0) -> list[str]:
    """String.split(sep) for a literal one-character separator: trailing empty strings dropped."""
    if limit > 0:
        parts = s.split(sep, limit - 1)
    else:
        parts = s.split(sep)
        while parts and parts[-1] == "":
            parts.pop()
    return parts


def java_parse_int(s: str) -> int | None:
    if not _INT_RE.match(s):
        return None
    v = int(s)
    return v if -(1 << 31) <= v < (1 << 31) else None


def digest_of(id_password: str) -> str:
    """DigestAuthenticationProvider.generateDigest: ``user:base64(sha1(user:password))``."""
    user = id_password.split(":", 1)[0]
    sha = hashlib.sha1(id_password.encode("utf-8", "surrogatepass")).digest()
    return user + ":" + base64.b64encode(sha).decode("ascii")


class IpAuthProvider:
    scheme = "ip"

    def handle_authentication(self, remote_ip: str, auth_data: bytes) -> list[tuple[str, str]] | None:
        return [("ip", remote_ip)]

    @staticmethod
    def _v4_bytes(addr: str) -> list[int] | None:
        parts = addr.split(".")  # String.split("\\.", -1): empty strings kept
        if len(parts) != 4:
            return None
        out = []
        for p in parts:
            v = java_parse_int(p)
            if v is None or not 0 <= v <= 255:
                return None
            out.append(v)
        return out

    @staticmethod
    def _mask(b: list[int], bits: int) -> None:
        start = bits // 8
        start_mask = ~((1 << (8 - bits % 8)) - 1)
        while start < len(b):
            b[start] &= start_mask & 0xFF
            start_mask = 0
            start += 1

    def _acl_addr(self, acl_expr: str) -> tuple[list[int], int] | None:
        parts = acl_expr.split("/", 1)
        addr = self._v4_bytes(parts[0])
        if addr is None:
            return None
        bits = len(addr) * 8
        if len(parts) == 2:
            b = java_parse_int(parts[1])
            if b is None or b < 0 or b > len(addr) * 8:
                return None
            bits = b
        return addr, bits

    def is_valid(self, acl_id: str) -> bool:
        return self._acl_addr(acl_id) is not None

    def matches(self, auth_id: str, acl_expr: str) -> bool:
        parsed = self._acl_addr(acl_expr)
        if parsed is None:
            return False
        acl_addr, bits = parsed
        self._mask(acl_addr, bits)
        remote = self._v4_bytes(auth_id)
        if remote is None:
            return False
        self._mask(remote, bits)
        return remote == acl_addr

    def is_authenticated(self) -> bool:
        return False

    def user_name(self, auth_id: str) -> str:
        return auth_id


class DigestAuthProvider:
    scheme = "digest"

    def __init__(self, super_digest: str | None = None):
        self.super_digest = super_digest

    def handle_authentication(self, remote_ip: str, auth_data: bytes) -> list[tuple[str, str]] | None:
        d = digest_of(auth_data.decode("utf-8", "replace"))
        ids = []
        if self.super_digest is not None and d == self.super_digest:
            ids.append(("super", ""))
        ids.append(("digest", d))
        return ids

    def is_valid(self, acl_id: str) -> bool:
        return len(java_split(acl_id, ":")) == 2

    def matches(self, auth_id: str, acl_expr: str) -> bool:
        return auth_id == acl_expr

    def is_authenticated(self) -> bool:
        return True

    def user_name(self, auth_id: str) -> str:
        parts = java_split(auth_id, ":")
        return parts[0] if parts else ""


class SaslAuthProvider:
    """SASLAuthenticationProvider: ``sasl:<authorized id>`` ids, set by the SASL exchange (opcode 102).

    ZooKeeper registers it only when configured (``authProvider.N=...SASLAuthenticationProvider``);
    without it a ``sasl`` ACL is INVALIDACL and whoAmI shows the sasl id with an empty user.
    """

    scheme = "sasl"

    def __init__(self, let_any_sasl_user_do_x: str | None = None):
        self.let_any_sasl_user_do_x = let_any_sasl_user_do_x

    def handle_authentication(self, remote_ip: str, auth_data: bytes) -> list[tuple[str, str]] | None:
        return None  # an AuthPacket with scheme sasl: SASL is negotiated with opcode 102 instead

    def is_valid(self, acl_id: str) -> bool:
        # KerberosName(id) must not throw: a name with '@' must be name[/host]@realm
        return "@" not in acl_id or _KERBEROS_NAME.match(acl_id) is not None

    def matches(self, auth_id: str, acl_expr: str) -> bool:
        if auth_id == "super" or auth_id == acl_expr:
            return True
        return self.let_any_sasl_user_do_x is not None and acl_expr == self.let_any_sasl_user_do_x

    def is_authenticated(self) -> bool:
        return True

    def user_name(self, auth_id: str) -> str:
        return auth_id


class X509AuthProvider:
    """X509AuthenticationProvider: ``x509:<subject DN, RFC 2253>`` ids of TLS clients with a trusted certificate.

    ZooKeeper registers it when a secure client port is configured (QuorumPeerConfig.configureSSLAuth);
    the edge hands the core the certificate's subject after the handshake (``Connection.add_x509_identity``).
    """

    scheme = "x509"

    def __init__(self, super_user: str | None = None):
        self.super_user = super_user

    def handle_authentication(self, remote_ip: str, auth_data: bytes) -> list[tuple[str, str]] | None:
        return None  # only a TLS handshake authenticates; an AuthPacket with scheme x509 fails

    def is_valid(self, acl_id: str) -> bool:
        # new X500Principal(id) must parse: type=value pairs separated by ',', ';' or '+'
        if not acl_id.strip():
            return True
        for part in _DN_SEPARATOR.split(acl_id):
            attr, eq, _value = part.partition("=")
            if not eq or not _DN_ATTRIBUTE.match(attr.strip()):
                return False
        return True

    def matches(self, auth_id: str, acl_expr: str) -> bool:
        return auth_id == acl_expr or (self.super_user is not None and auth_id == self.super_user)

    def is_authenticated(self) -> bool:
        return True

    def user_name(self, auth_id: str) -> str:
        return auth_id


_DN_SEPARATOR = re.compile(r"(?<!\\)[,;+]")
_DN_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z|(?:OID\.)?[0-9]+(?:\.[0-9]+)*\Z")
_KERBEROS_NAME = re.compile(r"([^/@]*)(/([^/@]*))?@([^/@]*)\Z")
SASL_AUTH_PROVIDER_CLASS = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"


class AuthIds:
    """A connection's authenticated ids, iterated as ZooKeeper's ConcurrentHashMap would."""

    __slots__ = ("_set",)

    def __init__(self, initial=()):
        self._set = JavaHashSet(16, hash_fn=jute_id_hash)
        for pair in initial:
            self._set.add(pair)

    def add(self, scheme: str, ident: str) -> None:
        self._set.add((scheme, ident))

    def __iter__(self):
        return iter(self._set.ordered())

    def __len__(self):
        return len(self._set)

    def has_super(self) -> bool:
        return any(s == "super" for s, _ in self._set.ordered())


class AuthRegistry:
    """The providers of one server and the ACL rules that use them."""

    def __init__(self, super_digest: str | None = None, skip_acl: bool = False, sasl: bool = False,
                 let_any_sasl_user_do_x: str | None = None, x509: bool = False, x509_super_user: str | None = None):
        self.providers = {
            "ip": IpAuthProvider(),
            "digest": DigestAuthProvider(super_digest),
        }
        if sasl:
            self.providers["sasl"] = SaslAuthProvider(let_any_sasl_user_do_x)
        if x509:
            self.providers["x509"] = X509AuthProvider(x509_super_user)
        self.skip_acl = skip_acl

    def check(self, acl: list | None, perm: int, ids: AuthIds) -> bool:
        """ZooKeeperServer.checkACL, as a boolean."""
        if self.skip_acl or not acl:
            return True
        for entry in acl:  # world:anyone first: it needs no look at the ids (the answer is the same)
            if entry.perms & perm:
                ident = entry.id
                if ident.scheme == "world" and ident.id == "anyone":
                    return True
        ordered = ids._set.ordered()
        for scheme, _ in ordered:
            if scheme == "super":
                return True
        for entry in acl:
            if entry.perms & perm:
                scheme = entry.id.scheme
                ident = entry.id.id
                provider = self.providers.get(scheme)
                if provider is not None:
                    for a_scheme, a_id in ordered:
                        if a_scheme == scheme and provider.matches(a_id, ident):
                            return True
        return False

    def check_or_raise(self, acl: list | None, perm: int, ids: AuthIds, path: str | None = None) -> None:
        if not self.check(acl, perm, ids):
            raise KeeperError(Err.NOAUTH, path)

    def fixup(self, path: str, ids: AuthIds, acls: list | None) -> list:
        """PrepRequestProcessor.fixupACL: validate and expand the ACL of a create or setACL."""
        if acls is not None and len(acls) == 1:
            ident = acls[0].id
            if ident is not None and ident.scheme == "world" and ident.id == "anyone":
                return acls  # the usual case: nothing to validate or expand
        uniq: list = []
        for a in acls or ():
            if a not in uniq:
                uniq.append(a)
        if not uniq:
            raise KeeperError(Err.INVALIDACL, path)
        out = []
        for a in uniq:
            ident = a.id
            if ident is None or ident.scheme is None:
                raise KeeperError(Err.INVALIDACL, path)
            if ident.scheme == "world" and ident.id == "anyone":
                out.append(a)
            elif ident.scheme == "auth":
                valid = False
                for scheme, value in ids:
                    provider = self.providers.get(scheme)
                    if provider is not None and provider.is_authenticated():
                        valid = True
                        out.append(ACL(a.perms, Id(scheme, value)))
                if not valid:
                    raise KeeperError(Err.INVALIDACL, path)
            else:
                provider = self.providers.get(ident.scheme)
                if provider is None or ident.id is None or not provider.is_valid(ident.id):
                    raise KeeperError(Err.INVALIDACL, path)
                out.append(a)
        return out

    def authenticate(self, scheme: str, remote_ip: str, auth_data: bytes) -> list[tuple[str, str]] | None:
        """Handle an AuthPacket: the ids to add, or None for AUTHFAILED."""
        provider = self.providers.get(scheme)
        if provider is None:
            return None
        return provider.handle_authentication(remote_ip, auth_data or b"")

    def client_infos(self, ids: AuthIds) -> list:
        """AuthUtil.getClientInfos, for whoAmI."""
        out = []
        for scheme, value in ids:
            provider = self.providers.get(scheme)
            user = provider.user_name(value) if provider is not None else None
            out.append(ClientInfo(scheme, user if user is not None else ""))
        return out


READ_ACL_UNSAFE = [ACL(int(Perms.READ), Id("world", "anyone"))]
OPEN_ACL_UNSAFE = [ACL(int(Perms.ALL), Id("world", "anyone"))]
