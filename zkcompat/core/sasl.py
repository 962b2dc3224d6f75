"""SASL on the client port: the server side of DIGEST-MD5 (RFC 2831) and JAAS user lists.

Theory of operation
-------------------
ZooKeeper authenticates SASL clients with opcode 102: the client sends a token
(GetSASLRequest), the server answers with a token (SetSASLResponse), until the
server's mechanism is complete; then the connection gains the id
``sasl:<authorized id>`` (ZooKeeperServer.processSasl).  With a JAAS ``Server``
section of ``DigestLoginModule`` entries (``user_<name>="<password>"``) Java's
DIGEST-MD5 server does the exchange, created per connection with protocol
``zookeeper`` and server name ``zk-sasl-md5`` (ZooKeeperSaslServer), which is
also the one realm it offers.  The exchange, as Apache ZooKeeper 3.8 runs it:

1. the client sends a token (kazoo and the Java client send an empty one; a
   non-empty one is ignored); the server answers with the challenge
   ``realm="zk-sasl-md5",nonce="<40 base64 chars>",charset=utf-8,algorithm=md5-sess``
   (no qop directive: ``auth`` only);
2. the client sends its digest-response; the server checks every directive and
   the response hash against the user's password and answers ``rspauth=<hex>``;
   the mechanism is complete and the authorized id is the user name (put
   through ZooKeeper's Kerberos-name canonicalisation, which leaves a plain
   ``user`` or ``user@REALM`` as it is, SaslServerCallbackHandler);
3. any further token is an error.

Any error is a ``SaslError``; the connection then answers AUTHFAILED and closes.  A
``SaslCrash`` is a token that makes Java's server throw outside SASL (a number
that does not parse): ZooKeeper closes the connection without a reply.

``DigestMD5Server`` is pure: the nonce comes from an injected source of random
bytes, so a test replays an exchange exactly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Callable, Mapping

PROTOCOL = "zookeeper"
SERVER_NAME = "zk-sasl-md5"
RESPONSE_BYTES_MAX = 4096  # Java's DigestMD5Server refuses longer responses
NONCE_BYTES = 30  # 40 characters of base64, as Java's server sends

# the directives of a digest-response that Java's server reads, each at most once; others are
# ignored.  Java knows the nonce count as "nonce-count", not RFC 2831's "nc": a client's nc is
# ignored, and the hashes take the count 00000001 (checked against Apache ZooKeeper 3.8).
_RESPONSE_KEYS = ("username", "realm", "nonce", "cnonce", "nonce-count", "qop", "digest-uri", "response",
                  "maxbuf", "charset", "cipher", "authzid", "auth-param")
_JAVA_INT = re.compile(r"[+-]?[0-9]+\Z")
_JAVA_HEX_INT = re.compile(r"[+-]?[0-9a-fA-F]+\Z")
_KERBEROS_NAME = re.compile(r"([^/@]*)(/([^/@]*))?@([^/@]*)\Z")


class SaslError(Exception):
    """The peer's token is wrong: the exchange fails (javax.security.sasl.SaslException)."""


class SaslCrash(Exception):
    """A token that makes Java's server throw a RuntimeException (a NumberFormatException):
    ZooKeeper then closes the connection without a reply."""


def _java_int(text: bytes, key: str, hex_digits: bool = False) -> int:
    """Integer.parseInt(text[, 16]), or SaslCrash as its NumberFormatException."""
    s = text.decode("latin-1")
    if not (_JAVA_HEX_INT if hex_digits else _JAVA_INT).match(s):
        raise SaslCrash("%s: NumberFormatException for input string: %r" % (key, s))
    v = int(s, 16 if hex_digits else 10)
    if not -(1 << 31) <= v < (1 << 31):
        raise SaslCrash("%s: NumberFormatException for input string: %r" % (key, s))
    return v


def parse_directives(data: bytes) -> dict[str, bytes]:
    """RFC 2831 ``1#( name "=" ( token | quoted-string ) )``; a directive seen twice is an error."""
    out: dict[str, bytes] = {}
    i, n = 0, len(data)
    while i < n:
        while i < n and data[i] in b" \t\r\n,":
            i += 1
        if i >= n:
            break
        eq = data.find(b"=", i)
        comma = data.find(b",", i)
        if eq < 0 and comma < 0:
            break  # a last directive without a value is ignored, as Java's parser does
        if eq < 0 or 0 <= comma < eq:
            raise SaslError("DIGEST-MD5: directive without a value")
        key = data[i:eq].strip().decode("latin-1").lower()
        i = eq + 1
        while i < n and data[i] in b" \t":
            i += 1
        if i < n and data[i] == 0x22:  # quoted-string with backslash escapes
            i += 1
            val = bytearray()
            while True:
                if i >= n:
                    raise SaslError("DIGEST-MD5: unmatched quote in %s" % key)
                c = data[i]
                i += 1
                if c == 0x5C:
                    if i >= n:
                        raise SaslError("DIGEST-MD5: unmatched quote in %s" % key)
                    val.append(data[i])
                    i += 1
                elif c == 0x22:
                    break
                else:
                    val.append(c)
            value = bytes(val)
            while i < n and data[i] in b" \t\r\n":
                i += 1
            if i < n and data[i] != 0x2C:
                raise SaslError("DIGEST-MD5: expected a comma after %s" % key)
        else:
            end = data.find(b",", i)
            end = n if end < 0 else end
            value = data[i:end].strip()
            i = end
        if not key:
            raise SaslError("DIGEST-MD5: empty directive name")
        if key in out and key in _RESPONSE_KEYS:
            raise SaslError("DIGEST-MD5: peer sent more than one %s directive" % key)
        out[key] = value
    return out


def _to_bytes(s: str) -> bytes:
    """RFC 2831 with charset=utf-8: ISO 8859-1 when every character fits, else UTF-8."""
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def _h(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _hex(data: bytes) -> bytes:
    return data.hex().encode("ascii")


def canonical_name(authentication_id: str) -> str:
    """SaslServerCallbackHandler: the authorized id from KerberosName (host and realm kept)."""
    m = _KERBEROS_NAME.match(authentication_id)
    if m is None:
        if "@" in authentication_id:
            raise SaslError("Malformed Kerberos name: %s" % authentication_id)
        return authentication_id
    name = m.group(1)
    if m.group(3) is not None:
        name += "/" + m.group(3)
    return name + "@" + m.group(4)


class DigestMD5Server:
    """One connection's DIGEST-MD5 exchange, server side, qop ``auth`` only."""

    def __init__(self, users: Mapping[str, str], nonce_source: Callable[[int], bytes],
                 super_password: str | None = None):
        self.users = users
        self.nonce_source = nonce_source
        self.super_password = super_password
        self.realm = SERVER_NAME
        self.digest_uri = "%s/%s" % (PROTOCOL, SERVER_NAME)
        self.step = 1
        self.nonce = b""
        self.complete = False
        self.authorization_id: str | None = None

    def evaluate(self, response: bytes) -> bytes:
        """Take the client's token, return the server's; raise SaslError when the exchange fails."""
        if len(response) > RESPONSE_BYTES_MAX:
            raise SaslError("DIGEST-MD5: Invalid digest response length. Got: %d Expected < %d"
                            % (len(response), RESPONSE_BYTES_MAX))
        if self.step == 1:
            self.step = 3
            self.nonce = base64.b64encode(self.nonce_source(NONCE_BYTES))
            return b'realm="%s",nonce="%s",charset=utf-8,algorithm=md5-sess' % (self.realm.encode("ascii"),
                                                                                 self.nonce)
        if self.step == 3:
            self.step = 0
            return self._validate(response)
        raise SaslError("DIGEST-MD5: Server at illegal state")

    def _password(self, user: str) -> str | None:
        if user == "super" and self.super_password is not None:
            return self.super_password
        return self.users.get(user)

    def _validate(self, response: bytes) -> bytes:
        d = parse_directives(response)
        charset = d.get("charset")
        if charset is not None and charset.lower() != b"utf-8":
            raise SaslError("DIGEST-MD5: digest response format violation. Incompatible charset value: %s"
                            % charset.decode("latin-1"))
        enc = "utf-8" if charset is not None else "latin-1"

        def text(key: str) -> str | None:
            v = d.get(key)
            if v is None:
                return None
            try:
                return v.decode(enc)
            except UnicodeDecodeError:
                raise SaslError("DIGEST-MD5: %s is not %s" % (key, enc))

        username = text("username")
        if username is None:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing username.")
        realm = text("realm")
        if realm is None:
            # Java's server refuses a response without realm (checked against ZooKeeper 3.8)
            raise SaslError("DIGEST-MD5: digest response format violation. Missing realm.")
        if realm != self.realm:
            raise SaslError("DIGEST-MD5: digest response format violation. Nonexistent realm: %s" % realm)
        nonce = d.get("nonce")
        if nonce != self.nonce:
            raise SaslError("DIGEST-MD5: digest response format violation. Mismatched nonce.")
        cnonce = d.get("cnonce")
        if cnonce is None:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing cnonce.")
        if "nonce-count" in d and _java_int(d["nonce-count"], "nonce-count", hex_digits=True) != 1:
            raise SaslError("DIGEST-MD5: digest response format violation. Nonce count does not match: %s"
                            % d["nonce-count"].decode("latin-1"))
        qop = d.get("qop", b"auth")
        if qop != b"auth":
            raise SaslError("DIGEST-MD5: digest response format violation. Invalid QOP: %s" % qop.decode("latin-1"))
        if "maxbuf" in d:
            _java_int(d["maxbuf"], "maxbuf")
        uri = text("digest-uri")
        if uri is None:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing digest-uri.")
        if uri.lower() != self.digest_uri.lower():
            raise SaslError("DIGEST-MD5: digest response format violation. Mismatched URI: %s; expecting: %s"
                            % (uri, self.digest_uri))
        client_response = d.get("response")
        if client_response is None or len(client_response) != 32:
            raise SaslError("DIGEST-MD5: digest response format violation. Missing or malformed response.")
        password = self._password(username)
        if password is None:
            raise SaslError("DIGEST-MD5: cannot acquire password for %s in realm : %s" % (username, realm))
        authzid = text("authzid")
        a1 = _h(_to_bytes(username) + b":" + _to_bytes(realm) + b":" + _to_bytes(password))
        a1 += b":" + nonce + b":" + cnonce
        if authzid:
            a1 += b":" + _to_bytes(authzid)
        ha1 = _hex(_h(a1))
        # the hashes take the server's own count, "00000001", however the client wrote nc
        tail = b":" + nonce + b":00000001:" + cnonce + b":" + qop + b":"
        expected = _hex(_h(ha1 + tail + _hex(_h(b"AUTHENTICATE:" + d["digest-uri"]))))
        if not hmac.compare_digest(expected, client_response.lower()):
            raise SaslError("DIGEST-MD5: digest response format violation. Mismatched response.")
        self.authorization_id = canonical_name(username)
        self.complete = True
        return b"rspauth=" + _hex(_h(ha1 + tail + _hex(_h(b":" + d["digest-uri"]))))


# --- JAAS login configuration files ------------------------------------------------------

_JAAS_TOKEN = re.compile(
    r'\s+|//[^\n]*|/\*.*?\*/|#[^\n]*|"((?:[^"\\]|\\.)*)"|([{};=])|([^\s{};="]+)', re.S)


def parse_jaas(text: str) -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    """A JAAS login configuration file: section -> [(login module, flag, options)].

    The syntax of Java's ConfigFile: ``Name { module flag key=value ... ; ... };`` with
    ``//`` and ``/* */`` comments and double-quoted values.  Raises ValueError.
    """
    tokens: list[tuple[str, str]] = []  # (kind, text): kind is "w" word, "s" string, "p" punctuation
    pos = 0
    while pos < len(text):
        m = _JAAS_TOKEN.match(text, pos)
        if m is None:
            raise ValueError("JAAS configuration: cannot read at offset %d" % pos)
        pos = m.end()
        if m.group(1) is not None:
            tokens.append(("s", re.sub(r"\\(.)", r"\1", m.group(1))))
        elif m.group(2) is not None:
            tokens.append(("p", m.group(2)))
        elif m.group(3) is not None:
            tokens.append(("w", m.group(3)))
    sections: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    i = 0

    def take(kind: str | None = None, value: str | None = None) -> str:
        nonlocal i
        if i >= len(tokens):
            raise ValueError("JAAS configuration: unexpected end of file")
        k, v = tokens[i]
        if (kind is not None and k != kind) or (value is not None and v != value):
            raise ValueError("JAAS configuration: expected %s, found %r" % (value or kind, v))
        i += 1
        return v

    while i < len(tokens):
        name = take("w")
        take("p", "{")
        entries = sections.setdefault(name, [])
        while tokens[i:i + 1] != [("p", "}")]:
            module = take("w")
            flag = take("w")
            if flag.lower() not in ("required", "requisite", "sufficient", "optional"):
                raise ValueError("JAAS configuration: %s: bad control flag %r" % (module, flag))
            options: dict[str, str] = {}
            while tokens[i:i + 1] != [("p", ";")]:
                key = take("w")
                take("p", "=")
                if i < len(tokens) and tokens[i][0] in ("s", "w"):
                    options[key] = tokens[i][1]
                    i += 1
                else:
                    raise ValueError("JAAS configuration: %s: option %s has no value" % (module, key))
            take("p", ";")
            entries.append((module, flag, options))
        take("p", "}")
        take("p", ";")
    return sections


def jaas_digest_users(text: str, section: str = "Server") -> dict[str, str]:
    """The DIGEST-MD5 users of one JAAS section: its ``user_<name>="<password>"`` options.

    Like SaslServerCallbackHandler, every login module of the section contributes;
    a missing section is an error (ZooKeeper refuses to start).
    """
    sections = parse_jaas(text)
    if section not in sections:
        raise ValueError("No JAAS configuration section named '%s' was found" % section)
    users: dict[str, str] = {}
    for _module, _flag, options in sections[section]:
        for key, value in options.items():
            if key.startswith("user_"):
                users[key[len("user_"):]] = value
    return users
