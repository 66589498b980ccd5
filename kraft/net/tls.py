"""TLS for the listeners and the connections to voters, from Kafka's ``ssl.*`` keys.

Contexts come from the standard :mod:`ssl` module (OpenSSL); nothing here does
any cryptography.  The keys and their meaning follow Kafka 3.9's
``SslConfigs`` / ``DefaultSslEngineFactory``:

``ssl.keystore.type``
    ``PEM`` is supported (Kafka's default ``JKS`` and ``PKCS12`` are not: a
    config naming them, or leaving the type unset with a key store given, is
    refused as Kafka refuses a PEM key under a non-PEM type).
``ssl.keystore.key`` + ``ssl.keystore.certificate.chain``
    The private key (PKCS#8, optionally encrypted) and the certificate chain as
    PEM text in the config itself; line breaks may be written as spaces, as
    Kafka's parser accepts (a properties value continued with ``\\``).
``ssl.keystore.location``
    Or a PEM file holding the private key and the chain.
``ssl.key.password``
    The password of an encrypted private key.  ``ssl.keystore.password`` must
    not be set with PEM (Kafka refuses it the same way).
``ssl.truststore.type`` / ``ssl.truststore.certificates`` / ``ssl.truststore.location``
    The trusted certificates (PEM text, or a PEM file).  With neither, the
    system's default trust store is used (Kafka: the JVM's).
``ssl.client.auth``
    ``required``, ``requested`` or ``none`` (default): whether a listener asks
    connecting peers for a certificate.
``ssl.endpoint.identification.algorithm``
    ``https`` (default): a connection to a voter checks that the voter's
    certificate names the host connected to; empty turns the check off.  As in
    Kafka, a server never checks its clients' host names.
``ssl.enabled.protocols``
    ``TLSv1.2,TLSv1.3`` by default; only those two are accepted.

Every key may also be given for one listener as
``listener.name.<listener>.<key>`` (lower-case listener name), which wins
over the plain key, as in Kafka.

Any problem (a missing file, a bad PEM, a wrong or missing key password, a
key that does not match its certificate) raises :class:`ConfigError` naming
the key, when the node starts.
"""
from __future__ import annotations

import os
import re
import ssl
import tempfile
from dataclasses import dataclass
from typing import Mapping, Optional

from kraft.errors import ConfigError

KEYSTORE_TYPE = "ssl.keystore.type"
KEYSTORE_LOCATION = "ssl.keystore.location"
KEYSTORE_PASSWORD = "ssl.keystore.password"
KEYSTORE_KEY = "ssl.keystore.key"
KEYSTORE_CERTIFICATE_CHAIN = "ssl.keystore.certificate.chain"
KEY_PASSWORD = "ssl.key.password"
TRUSTSTORE_TYPE = "ssl.truststore.type"
TRUSTSTORE_LOCATION = "ssl.truststore.location"
TRUSTSTORE_PASSWORD = "ssl.truststore.password"
TRUSTSTORE_CERTIFICATES = "ssl.truststore.certificates"
CLIENT_AUTH = "ssl.client.auth"
ENDPOINT_IDENTIFICATION_ALGORITHM = "ssl.endpoint.identification.algorithm"
ENABLED_PROTOCOLS = "ssl.enabled.protocols"
PROTOCOL = "ssl.protocol"

#: Keys read here.
KEYS = frozenset({
    KEYSTORE_TYPE, KEYSTORE_LOCATION, KEYSTORE_PASSWORD, KEYSTORE_KEY, KEYSTORE_CERTIFICATE_CHAIN,
    KEY_PASSWORD, TRUSTSTORE_TYPE, TRUSTSTORE_LOCATION, TRUSTSTORE_PASSWORD, TRUSTSTORE_CERTIFICATES,
    CLIENT_AUTH, ENDPOINT_IDENTIFICATION_ALGORITHM, ENABLED_PROTOCOLS, PROTOCOL,
})
#: Kafka keys accepted without effect here (the JVM's providers and algorithms; OpenSSL chooses).
WITHOUT_EFFECT = frozenset({
    "ssl.provider", "ssl.keymanager.algorithm", "ssl.trustmanager.algorithm", "ssl.secure.random.implementation",
    "ssl.principal.mapping.rules", "ssl.cipher.suites", "ssl.allow.dn.changes", "ssl.allow.san.changes",
})

_LISTENER_PREFIX = re.compile(r"listener\.name\.[^.]+\.(ssl\..+)")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----")
_PROTOCOLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def is_ssl_key(key: str) -> bool:
    """Whether ``key`` is one of the ``ssl.*`` keys known here, plain or listener-prefixed."""
    match = _LISTENER_PREFIX.fullmatch(key)
    base = match.group(1) if match else key
    return base in KEYS or base in WITHOUT_EFFECT


def _normalise_pem(key: str, text: str, kinds: tuple[str, ...]) -> str:
    """PEM blocks of ``text`` whose label ends in one of ``kinds``, re-wrapped in 64-column lines."""
    out = []
    for label, body in _PEM_BLOCK.findall(text):
        if not label.endswith(kinds):
            continue
        data = "".join(body.split())
        lines = [data[i:i + 64] for i in range(0, len(data), 64)]
        out.append(f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n")
    if not out:
        raise ConfigError(key, f"no {' or '.join(kinds)} PEM block found")
    return "".join(out)


@dataclass(frozen=True)
class SslSettings:
    """The ``ssl.*`` keys of one listener, checked; :meth:`server_context` / :meth:`client_context`
    build the contexts (and raise :class:`ConfigError` naming the key at fault)."""

    listener: str
    keystore_location: Optional[str] = None
    keystore_key: Optional[str] = None
    keystore_chain: Optional[str] = None
    key_password: Optional[str] = None
    truststore_location: Optional[str] = None
    truststore_certificates: Optional[str] = None
    client_auth: str = "none"
    check_hostname: bool = True
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    maximum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    #: the key each setting was read from (plain or listener-prefixed), for error messages
    key_names: tuple[tuple[str, str], ...] = ()

    def _name(self, key: str) -> str:
        return dict(self.key_names).get(key, key)

    @property
    def has_keystore(self) -> bool:
        return self.keystore_location is not None or self.keystore_key is not None

    @classmethod
    def from_properties(cls, props: Mapping[str, str], listener: str) -> "SslSettings":
        prefix = f"listener.name.{listener.lower()}."
        names: dict[str, str] = {}

        def get(key: str) -> Optional[str]:
            for name in (prefix + key, key):
                if name in props:
                    names[key] = name
                    return props[name]
            return None

        def stripped(key: str) -> Optional[str]:
            value = get(key)
            return value.strip() if value is not None and value.strip() else None

        keystore_type = (stripped(KEYSTORE_TYPE) or "JKS").upper()
        location = stripped(KEYSTORE_LOCATION)
        key = stripped(KEYSTORE_KEY)
        chain = stripped(KEYSTORE_CERTIFICATE_CHAIN)
        # Kafka's checks (DefaultSslEngineFactory.createKeystore), in its order
        if key is not None:
            if keystore_type != "PEM":
                raise ConfigError(names.get(KEYSTORE_KEY, KEYSTORE_KEY),
                                  f"a PEM private key needs {KEYSTORE_TYPE}=PEM, not {keystore_type}")
            if chain is None:
                raise ConfigError(names.get(KEYSTORE_CERTIFICATE_CHAIN, KEYSTORE_CERTIFICATE_CHAIN),
                                  f"missing; {KEYSTORE_KEY} is set without its certificate chain")
            if location is not None:
                raise ConfigError(names[KEYSTORE_LOCATION], f"cannot be set together with {KEYSTORE_KEY}")
        elif chain is not None:
            raise ConfigError(names.get(KEYSTORE_KEY, KEYSTORE_KEY),
                              f"missing; {KEYSTORE_CERTIFICATE_CHAIN} is set without its private key")
        elif location is not None and keystore_type != "PEM":
            raise ConfigError(names.get(KEYSTORE_TYPE, KEYSTORE_TYPE),
                              f"{keystore_type} key stores are not supported; use PEM")
        if stripped(KEYSTORE_PASSWORD) is not None:
            raise ConfigError(names[KEYSTORE_PASSWORD], f"cannot be used with PEM key stores; set only {KEY_PASSWORD}")

        truststore_type = (stripped(TRUSTSTORE_TYPE) or "JKS").upper()
        trust_location = stripped(TRUSTSTORE_LOCATION)
        trust_certs = stripped(TRUSTSTORE_CERTIFICATES)
        if trust_certs is not None:
            if truststore_type != "PEM":
                raise ConfigError(names[TRUSTSTORE_CERTIFICATES],
                                  f"PEM certificates need {TRUSTSTORE_TYPE}=PEM, not {truststore_type}")
            if trust_location is not None:
                raise ConfigError(names[TRUSTSTORE_LOCATION], f"cannot be set together with {TRUSTSTORE_CERTIFICATES}")
        elif trust_location is not None and truststore_type != "PEM":
            raise ConfigError(names.get(TRUSTSTORE_TYPE, TRUSTSTORE_TYPE),
                              f"{truststore_type} trust stores are not supported; use PEM")
        if stripped(TRUSTSTORE_PASSWORD) is not None:
            raise ConfigError(names[TRUSTSTORE_PASSWORD], "cannot be used with PEM trust stores")

        client_auth = (stripped(CLIENT_AUTH) or "none").lower()
        if client_auth not in ("required", "requested", "none"):
            raise ConfigError(names[CLIENT_AUTH], f"expected required, requested or none, got {get(CLIENT_AUTH)!r}")
        algorithm = get(ENDPOINT_IDENTIFICATION_ALGORITHM)
        algorithm = "https" if algorithm is None else algorithm.strip()
        if algorithm.lower() not in ("https", ""):
            raise ConfigError(names[ENDPOINT_IDENTIFICATION_ALGORITHM],
                              f"expected https or empty, got {algorithm!r}")
        protocols = [p.strip() for p in (get(ENABLED_PROTOCOLS) or "TLSv1.2,TLSv1.3").split(",") if p.strip()]
        for protocol in protocols:
            if protocol not in _PROTOCOLS:
                raise ConfigError(names.get(ENABLED_PROTOCOLS, ENABLED_PROTOCOLS),
                                  f"unsupported protocol {protocol!r}; expected TLSv1.2 and/or TLSv1.3")
        if not protocols:
            raise ConfigError(names.get(ENABLED_PROTOCOLS, ENABLED_PROTOCOLS), "is empty")
        versions = sorted(_PROTOCOLS[p] for p in protocols)
        password = get(KEY_PASSWORD)
        return cls(listener=listener, keystore_location=location, keystore_key=key, keystore_chain=chain,
                   key_password=password if password else None, truststore_location=trust_location,
                   truststore_certificates=trust_certs, client_auth=client_auth,
                   check_hostname=algorithm.lower() == "https", minimum_version=versions[0],
                   maximum_version=versions[-1], key_names=tuple(sorted(names.items())))

    # -- contexts ------------------------------------------------------------------

    def _context(self, purpose: int) -> ssl.SSLContext:
        context = ssl.SSLContext(purpose)
        context.minimum_version = self.minimum_version
        context.maximum_version = self.maximum_version
        self._load_keystore(context)
        self._load_truststore(context)
        return context

    def server_context(self) -> ssl.SSLContext:
        """The context a listener accepts connections with."""
        context = self._context(ssl.PROTOCOL_TLS_SERVER)
        if not self.has_keystore:
            raise ConfigError(self._name(KEYSTORE_LOCATION),
                              f"listener {self.listener} uses SSL but has no key store: set {KEYSTORE_LOCATION} "
                              f"or {KEYSTORE_KEY} and {KEYSTORE_CERTIFICATE_CHAIN}")
        context.verify_mode = {"required": ssl.CERT_REQUIRED, "requested": ssl.CERT_OPTIONAL,
                               "none": ssl.CERT_NONE}[self.client_auth]
        return context

    def client_context(self) -> ssl.SSLContext:
        """The context connections to voters are made with (presents the key store if there is one)."""
        context = self._context(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = self.check_hostname
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _load_keystore(self, context: ssl.SSLContext) -> None:
        asked = []

        def password():
            asked.append(True)
            return (self.key_password or "").encode()

        if self.keystore_key is not None:
            key_name = self._name(KEYSTORE_KEY)
            chain_name = self._name(KEYSTORE_CERTIFICATE_CHAIN)
            key_pem = _normalise_pem(key_name, self.keystore_key, ("PRIVATE KEY",))
            chain_pem = _normalise_pem(chain_name, self.keystore_chain, ("CERTIFICATE",))
            # the ssl module loads keys from files only: a private temporary file, removed at once
            with tempfile.TemporaryDirectory(prefix="kraft-ssl-") as directory:
                key_file = os.path.join(directory, "key.pem")
                chain_file = os.path.join(directory, "chain.pem")
                with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                    f.write(key_pem)
                with open(chain_file, "w") as f:
                    f.write(chain_pem)
                self._load_chain(context, chain_file, key_file, password, asked, key_name, chain_name)
        elif self.keystore_location is not None:
            name = self._name(KEYSTORE_LOCATION)
            path = self.keystore_location
            try:
                with open(path, encoding="ascii", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                raise ConfigError(name, f"cannot read {path}: {e.strerror or e}") from None
            _normalise_pem(name, text, ("PRIVATE KEY",))
            _normalise_pem(name, text, ("CERTIFICATE",))
            self._load_chain(context, path, None, password, asked, name, name)

    def _load_chain(self, context, chain_file, key_file, password, asked, key_name, chain_name) -> None:
        try:
            context.load_cert_chain(chain_file, key_file, password=password)
        except ssl.SSLError as e:
            reason = e.reason or str(e)
            if asked and self.key_password is None:
                raise ConfigError(key_name, f"the private key is encrypted; set {KEY_PASSWORD}") from None
            if asked:
                raise ConfigError(self._name(KEY_PASSWORD), f"cannot decrypt the private key of {key_name} "
                                                            f"(wrong password?)") from None
            if reason == "KEY_VALUES_MISMATCH":
                raise ConfigError(key_name, f"the private key does not match the certificate of {chain_name}") \
                    from None
            raise ConfigError(key_name, f"cannot load the key store: {reason}") from None
        except OSError as e:
            raise ConfigError(chain_name, f"cannot read {chain_file}: {e.strerror or e}") from None

    def _load_truststore(self, context: ssl.SSLContext) -> None:
        if self.truststore_certificates is not None:
            name = self._name(TRUSTSTORE_CERTIFICATES)
            pem = _normalise_pem(name, self.truststore_certificates, ("CERTIFICATE",))
            try:
                context.load_verify_locations(cadata=pem)
            except ssl.SSLError as e:
                raise ConfigError(name, f"cannot load the certificates: {e.reason or e}") from None
        elif self.truststore_location is not None:
            name = self._name(TRUSTSTORE_LOCATION)
            path = self.truststore_location
            try:
                with open(path, encoding="ascii", errors="replace") as f:
                    pem = _normalise_pem(name, f.read(), ("CERTIFICATE",))
            except OSError as e:
                raise ConfigError(name, f"cannot read {path}: {e.strerror or e}") from None
            try:
                context.load_verify_locations(cadata=pem)
            except ssl.SSLError as e:
                raise ConfigError(name, f"cannot load the certificates of {path}: {e.reason or e}") from None
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH if context.protocol == ssl.PROTOCOL_TLS_CLIENT
                                       else ssl.Purpose.CLIENT_AUTH)
