"""Security options: checking TLS and credential settings, building the SSLContext, and keeping
secrets out of every text we pass on. Nothing here touches the connection; the engine
(``beluga_nats_sync.engine``) applies these settings to each connection it makes.

Two promises are kept here:

- Bad security settings fail when the :class:`~beluga_nats_sync.Options` are made, naming the
  option, and never quoting a secret.
- Errors about a failed connection never carry a password, token or seed (:func:`scrub`).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

__all__ = [
    "SecuritySettings",
    "build_ssl_context",
    "check_security",
    "describe_credentials",
    "parse_permissions_error",
    "read_credentials_file",
    "read_seed_file",
    "scrub",
    "secrets_of",
    "wipe",
]


class SecuritySettings(Protocol):
    """The security fields of :class:`~beluga_nats_sync.Options` (which is what is passed)."""

    @property
    def servers(self) -> Sequence[str]: ...

    @property
    def tls(self) -> ssl.SSLContext | None: ...

    @property
    def tls_ca_file(self) -> str | None: ...

    @property
    def tls_cert_file(self) -> str | None: ...

    @property
    def tls_key_file(self) -> str | None: ...

    @property
    def tls_key_password(self) -> str | None: ...

    @property
    def tls_hostname(self) -> str | None: ...

    @property
    def tls_handshake_first(self) -> bool: ...

    @property
    def user(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...

    @property
    def token(self) -> str | None: ...

    @property
    def nkeys_seed(self) -> str | None: ...

    @property
    def nkeys_seed_str(self) -> str | None: ...

    @property
    def user_credentials(self) -> str | None: ...


_NKEYS_HINT = "pip install 'beluga-nats-sync[nkeys]'"
_JWT_BEGIN = "BEGIN NATS USER JWT"
_SEED_BEGIN = "BEGIN USER NKEY SEED"
_PERMISSIONS_RE = re.compile(r"permissions violation for (publish|subscription) to \"([^\"]*)\"", re.IGNORECASE)


# -- checking the options ---------------------------------------------------------------------
def _need_file(name: str, path: str | None) -> None:
    if path is not None and not os.path.isfile(path):
        raise ValueError(f"{name}: no such file: {path!r}")


def _nkeys(name: str) -> Any:
    try:
        import nkeys
    except ImportError:
        raise ImportError(f"{name} needs the nkeys package: {_NKEYS_HINT}") from None
    return nkeys


def _valid_seed(nkeys: Any, seed: bytes | bytearray) -> bool:
    """A user seed: ``SU``, 32 bytes of key and a matching CRC16 (nkeys' own check skips the CRC)."""
    seed = bytes(seed)
    if not seed.startswith(b"SU"):
        return False
    try:
        raw = base64.b32decode(seed + b"=" * (-len(seed) % 8))
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 36 or bytes(nkeys.crc16_checksum(bytearray(raw[:-2]))) != raw[-2:]:
        return False
    try:
        kp = nkeys.from_seed(bytearray(seed))
    except Exception:  # nkeys raises several kinds; none of their texts may reach the user anyway
        return False
    kp.wipe()
    return True


def read_seed_file(path: str) -> bytearray:
    """The seed in an NKey seed file, in a ``bytearray`` the caller wipes (it is not checked here)."""
    with open(path, "rb") as f:
        return bytearray(f.read().strip())


def _check_seed_file(name: str, path: str) -> None:
    nkeys = _nkeys(name)
    seed = read_seed_file(path)
    valid = _valid_seed(nkeys, seed)
    wipe(seed)
    if not valid:
        raise ValueError(
            f"{name}: {path!r} does not hold a valid NKey seed (one line starting with 'SU', as written by "
            "`nk -gen user`)"
        )


def read_credentials_file(path: str) -> tuple[str | None, bytearray | None]:
    """The user JWT and the user seed of a NATS credentials file (None for a part not found).

    The seed comes in a ``bytearray`` the caller wipes; the file's other copies in memory are
    wiped here. Neither part is checked: :func:`check_security` does that.
    """
    with open(path, "rb", buffering=0) as f:
        data = bytearray(os.fstat(f.fileno()).st_size)
        data[f.readinto(data) or 0 :] = b""
    lines = [ln.strip() for ln in data.splitlines()]
    wipe(data)

    def after(marker: bytes) -> bytearray | None:
        for i, ln in enumerate(lines):
            if marker in ln:
                return next((bytearray(x) for x in lines[i + 1 :] if x), None)
        return None

    jwt, seed = after(_JWT_BEGIN.encode()), after(_SEED_BEGIN.encode())
    for ln in lines:
        wipe(ln)
    return (None if jwt is None else jwt.decode("utf-8", "replace")), seed


def wipe(secret: bytearray) -> None:
    """Overwrite a secret held in a ``bytearray`` (best effort: Python may hold other copies)."""
    secret[:] = bytes(len(secret))


def _check_credentials_file(path: str) -> None:
    nkeys = _nkeys("user_credentials")
    jwt, seed = read_credentials_file(path)
    try:
        _check_credentials(nkeys, path, jwt, seed)
    finally:
        if seed is not None:
            wipe(seed)


def _check_credentials(nkeys: Any, path: str, jwt: str | None, seed: bytearray | None) -> None:
    if jwt is None or jwt.count(".") != 2:
        raise ValueError(
            f"user_credentials: {path!r} is not a NATS credentials file: no user JWT after "
            f"'-----{_JWT_BEGIN}-----' (expected the file written by `nsc generate creds`)"
        )
    if seed is None or not _valid_seed(nkeys, seed):
        raise ValueError(
            f"user_credentials: {path!r} is not a NATS credentials file: no valid user NKey seed after "
            f"'-----{_SEED_BEGIN}-----' (expected the file written by `nsc generate creds`)"
        )


def check_security(o: SecuritySettings) -> None:
    """Check the TLS and credential options together; raise naming the option at fault."""
    tls_files = {"tls_ca_file": o.tls_ca_file, "tls_cert_file": o.tls_cert_file, "tls_key_file": o.tls_key_file}
    if o.tls is not None and any(tls_files.values()):
        given = ", ".join(k for k, v in tls_files.items() if v)
        raise ValueError(
            f"tls: give either an ssl.SSLContext as tls, or the files ({given}), not both; "
            "load the files into your SSLContext instead"
        )
    if o.tls_key_file is not None and o.tls_cert_file is None:
        raise ValueError("tls_key_file: a client key needs its certificate; give tls_cert_file too")
    if o.tls_key_password is not None and o.tls_cert_file is None:
        raise ValueError("tls_key_password: there is no client key to decrypt; give tls_cert_file/tls_key_file")
    for name, path in tls_files.items():
        _need_file(name, path)
    if o.tls_hostname is not None and (not o.tls_hostname or any(c.isspace() for c in o.tls_hostname)):
        raise ValueError(f"tls_hostname must be a host name without whitespace, got {o.tls_hostname!r}")
    build_ssl_context(o)  # a certificate or key that does not load fails now, naming its option

    if (o.user is None) != (o.password is None):
        given, missing = ("user", "password") if o.password is None else ("password", "user")
        raise ValueError(f"{given} was given without {missing}: give both (or put both in the URL)")
    if o.token is not None and not o.token:
        raise ValueError("token must be a non-empty str or None")
    if o.nkeys_seed is not None and o.nkeys_seed_str is not None:
        raise ValueError("nkeys_seed and nkeys_seed_str: give one NKey seed, as a file path or as a str, not both")
    if o.user_credentials is not None and (o.nkeys_seed is not None or o.nkeys_seed_str is not None):
        raise ValueError(
            "user_credentials already holds the user's seed; do not give nkeys_seed/nkeys_seed_str with it"
        )
    if o.nkeys_seed is not None:
        _need_file("nkeys_seed", o.nkeys_seed)
        _check_seed_file("nkeys_seed", o.nkeys_seed)
    if o.nkeys_seed_str is not None and not _valid_seed(_nkeys("nkeys_seed_str"), o.nkeys_seed_str.strip().encode()):
        raise ValueError(
            "nkeys_seed_str is not a valid NKey seed (expected one line starting with 'SU', as written by "
            "`nk -gen user`)"
        )
    if o.user_credentials is not None:
        _need_file("user_credentials", o.user_credentials)
        _check_credentials_file(o.user_credentials)


# -- TLS --------------------------------------------------------------------------------------
def build_ssl_context(o: SecuritySettings) -> ssl.SSLContext | None:
    """The SSLContext the options ask for, or None when they name no TLS setting.

    From files, the context verifies the server (``CERT_REQUIRED`` and host name checks) against
    ``tls_ca_file``, or the system's CAs when it is not given.
    """
    if o.tls is not None:
        return o.tls
    if o.tls_ca_file is None and o.tls_cert_file is None:
        return None
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=o.tls_ca_file)
    except (ssl.SSLError, OSError):
        raise ValueError(f"tls_ca_file: {o.tls_ca_file!r} holds no PEM CA certificate") from None
    if o.tls_cert_file is not None:
        password = o.tls_key_password

        def key_password() -> str:
            if password is None:  # without this, OpenSSL would prompt on the terminal and block
                raise ValueError(
                    "tls_key_file: the client key is encrypted; give tls_key_password, "
                    "or pass tls= an SSLContext you loaded yourself"
                )
            return password

        try:
            ctx.load_cert_chain(o.tls_cert_file, o.tls_key_file, password=key_password)
        except ssl.SSLError:
            key = "tls_key_file" if o.tls_key_file else "tls_cert_file"
            raise ValueError(
                f"tls_cert_file/{key}: cannot load the client certificate {o.tls_cert_file!r} with its key "
                f"{(o.tls_key_file or o.tls_cert_file)!r}: not PEM, the key does not match the certificate, "
                "or tls_key_password is wrong"
            ) from None
    return ctx


# -- words for errors -------------------------------------------------------------------------
def describe_credentials(o: SecuritySettings) -> str:
    """Which credentials the options carry, without their secret part."""
    if o.user_credentials is not None:
        return f"the credentials file {o.user_credentials!r}"
    if o.nkeys_seed is not None:
        return f"the NKey seed in {o.nkeys_seed!r}"
    if o.nkeys_seed_str is not None:
        return "the NKey seed given as nkeys_seed_str"
    if o.user is not None:
        return f"user {o.user!r} with a password"
    if o.token is not None:
        return "a token"
    if any("@" in u.partition("://")[2] for u in o.servers):
        return "the credentials in the server URL"
    return "no credentials"


def parse_permissions_error(text: str) -> tuple[str | None, str | None]:
    """``(operation, subject)`` from a server's permissions violation text, when it says them."""
    m = _PERMISSIONS_RE.search(text)
    if m is None:
        return None, None
    return ("publish" if m.group(1).lower() == "publish" else "subscribe"), m.group(2)


def secrets_of(o: SecuritySettings) -> tuple[str, ...]:
    """Every secret the options hold (password, token, seed, URL passwords and tokens)."""
    found = [s for s in (o.password, o.token, o.nkeys_seed_str, o.tls_key_password) if s]
    for url in o.servers:
        rest = url.partition("://")[2] or url
        if "@" in rest:
            userinfo = rest.rpartition("@")[0]
            user, colon, secret = userinfo.partition(":")
            found.append(secret if colon else user)
    return tuple(s for s in found if s)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``: a last guard on messages we pass on."""
    for s in sorted(set(secrets), key=len, reverse=True):
        if len(s) >= 3:  # shorter ones would mangle ordinary words and say little anyway
            text = text.replace(s, "***")
    return text
