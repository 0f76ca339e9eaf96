"""The SMTP server engine: one side of one connection, sans-IO (RFC 5321 + ESMTP).

    conn = SMTPServer(ServerConfig(hostname="mx.example.org"))
    wire = conn.data_to_send()               # the 220 greeting
    conn.receive_data(b"EHLO a.example\\r\\n")
    for event in conn.events():
        if isinstance(event, RcptTo):        # events that need a reply stop here
            conn.send(replies.RECIPIENT_OK)  # ...until the node decides
    wire = conn.data_to_send()

The engine owns syntax, limits, framing and the order of commands and answers
those itself, with the texts Postfix uses. The node owns policy: it answers
MailFrom, RcptTo, Vrfy, AuthCredentials and DataComplete with send(), SecretNeeded
with supply_secret() and TokenCredentials with accept_token() or refuse_token()
(each of the last two may also be ended with send()). Nothing the client
sends can make this engine raise; misuse by our own code raises
LocalProtocolError.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from simulator.protocol import sasl
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.linebuffer import CRLF, Line, LineBuffer
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.readers import SyntaxProblem, parse_command, parse_mail, parse_rcpt, parse_vrfy
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.state import TRANSITIONS, State, TLSEstablished, sequence_error
from simulator.protocol.smtp.writers import format_reply

# RFC 4954 §4: AUTH lines (initial response included) may be this long.
AUTH_LINE_LIMIT = 12288
# RFC 1870 §3 (+26 for SIZE), RFC 3461 §5 and RFC 4954 §5 (+500 each for DSN and AUTH=)
# raise the limit of MAIL and RCPT lines above the 512 of RFC 5321 §4.5.3.1.4.
ESMTP_PARAMETER_ALLOWANCE = 26 + 500 + 500
# Commands a web browser or proxy sends; Postfix's smtpd_forbidden_commands.
HTTP_VERBS = frozenset({"CONNECT", "GET", "POST", "HEAD", "PUT"})
# Events the node must answer with send() before the engine reads further.
NEEDS_REPLY = (
    ev.MailFrom,
    ev.RcptTo,
    ev.Vrfy,
    ev.AuthCredentials,
    ev.SecretNeeded,
    ev.TokenCredentials,
    ev.DataComplete,
)
# What each way a SASL exchange can fail is answered with (RFC 4954 §4, §6; Postfix's texts).
SASL_FAILURE_REPLIES: dict[sasl.FailureKind, Reply] = {
    sasl.FailureKind.ABORTED: replies.AUTH_ABORTED,
    sasl.FailureKind.BAD_BASE64: replies.AUTH_BAD_BASE64,
    sasl.FailureKind.MALFORMED: replies.AUTH_FAILED,
    sasl.FailureKind.TOO_LONG: replies.AUTH_FAILED,
    sasl.FailureKind.CREDENTIALS: replies.AUTH_FAILED,
    sasl.FailureKind.TOKEN: replies.AUTH_FAILED,
}


@dataclass(frozen=True)
class ServerConfig:
    """Who the server is and what it offers; defaults follow Postfix's.

    Attributes:
        hostname: the name in the greeting and EHLO reply.
        max_message_size: SIZE advertised and enforced (Postfix message_size_limit); 0 = no limit.
        max_recipients: recipients per transaction (smtpd_recipient_limit).
        command_line_limit: octets per command line, CRLF included (RFC 5321 §4.5.3.1.4).
        text_line_limit: octets per message line, CRLF included (RFC 5321 §4.5.3.1.6).
        hard_error_limit: errors before the server hangs up with 421 (smtpd_hard_error_limit).
        starttls: the host can run TLS, so STARTTLS is offered.
        tls_active: the connection is already TLS (implicit TLS, RFC 8314).
        auth_mechanisms: SASL mechanisms offered, in this order; empty means no AUTH. Any of
            `sasl.SASL_SERVERS` (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER).
        auth_requires_tls: offer AUTH only over TLS (Postfix smtpd_tls_auth_only).
        bare_newline: what a line ending in a bare LF means (RFC 5321 §2.3.8 allows only CRLF).
            "reject" answers 550 5.5.2 and hangs up (Postfix 3.9 smtpd_forbid_bare_newline = reject).
            The other two are the two halves of SMTP smuggling (CVE-2023-51764), for attack
            demonstrations: "line-end" takes a bare LF as a line end, so `<LF>.<CR><LF>` ends DATA
            (Postfix before 3.9, Sendmail); "keep" keeps bare LFs in the message as ordinary
            octets and ends DATA only at `<CR><LF>.<CR><LF>` (Exchange Online before 2023).
        keep_plaintext_after_starttls: run commands pipelined in clear text after STARTTLS as if
            they had come over TLS (CVE-2011-0411), for attack demonstrations; RFC 3207 §4.2 says
            to discard them, which is the default.
    """

    hostname: str = "mx.example.org"
    banner: str = "ESMTP"
    max_message_size: int = 10_240_000
    max_recipients: int = 1000
    command_line_limit: int = 512
    text_line_limit: int = 1000
    hard_error_limit: int = 20
    pipelining: bool = True
    vrfy: bool = True
    eightbitmime: bool = True
    smtputf8: bool = True
    chunking: bool = True
    dsn: bool = True
    enhanced_status_codes: bool = True
    starttls: bool = False
    tls_active: bool = False
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    auth_requires_tls: bool = True
    bare_newline: Literal["reject", "line-end", "keep"] = "reject"
    keep_plaintext_after_starttls: bool = False


@dataclass(frozen=True)
class Output:
    """One reply as written on the wire, with the Reply it renders (for the trace)."""

    data: bytes
    reply: Reply


@dataclass
class _Chunk:
    """A BDAT chunk being read; `error` is the reply it gets once read, if refused."""

    remaining: int
    size: int
    last: bool
    error: Reply | None


class SMTPServer(sasl.SaslAnswers):
    """The server side of one SMTP connection."""

    secret_event = ev.SecretNeeded  # what the node answers with supply_secret()
    token_event = ev.TokenCredentials  # ... and with accept_token() or refuse_token()

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        greet: bool = True,
        rng: sasl.RandomSource | random.Random | None = None,
    ) -> None:
        """Start a session; greet at once unless told not to (RFC 5321 §3.1).

        Args:
            greet: send the 220 greeting now (else call `greet()` later).
            rng: where the CRAM-MD5 challenge and SCRAM nonces come from; `secrets` when None.
        """
        self.config = config or ServerConfig()
        self._rng = rng
        self.state = State.CONNECTED
        self.tls = self.config.tls_active
        self.auth_user: str | None = None
        self.errors = 0
        self.helo = ""
        self.esmtp = False
        self._buffer = LineBuffer()
        self._outbox: list[Output] = []
        self._queued: deque[ev.Event] = deque()
        self._awaiting: ev.Event | None = None
        self._eof = False
        self._sasl: sasl.SaslServer | None = None
        self._chunk: _Chunk | None = None
        self._keyword_cache: dict[bool, set[str]] = {}
        self._reset_transaction()
        if greet:
            self.greet()

    # --- the host's side -------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The server has finished: write what is pending, then close the connection."""
        return self.state is State.CLOSED

    def greet(self) -> None:
        """Send the greeting now (a host modelling a greet pause calls this late).

        A client that spoke before the greeting is not talking SMTP as RFC 5321
        §4.3.1 requires; it gets 554 instead of 220 and the connection ends.
        """
        if self.state is not State.CONNECTED:
            raise LocalProtocolError("the greeting was already sent")
        if self._buffer:
            self._buffer.clear()
            self._reply(replies.IMPROPER_PIPELINING, closing=True)
            self._queued.append(self._close("the client spoke before the greeting"))
            return
        self.state = State.GREETED
        self._reply(replies.greeting(self.config.hostname, self.config.banner))

    def refuse(self, reply: Reply) -> None:
        """Answer the connection with a refusal instead of the greeting, then close (RFC 5321 §3.1)."""
        if self.state is not State.CONNECTED:
            raise LocalProtocolError("refuse() replaces the greeting")
        self._buffer.clear()
        self._reply(reply, closing=True)
        self._queued.append(self._close(f"refused: {reply.first_line()}"))

    @property
    def envelope_sender(self) -> str:
        """The reverse-path of the open transaction ("" when none, or the null sender)."""
        return self._sender

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; b"" means the client closed its side."""
        if self.state is State.CLOSED:
            return
        if data and self.state is State.STARTTLS:
            return  # clear text during the handshake is not to be trusted (RFC 3207 §4.2)
        if data:
            self._buffer.feed(data)
        else:
            self._eof = True

    def events(self) -> Iterator[ev.Event]:
        """Process what has arrived, yielding events until more input is needed.

        After an event in NEEDS_REPLY, call send() before asking for the next one.
        """
        while True:
            if self._awaiting is not None:
                raise LocalProtocolError(f"answer {type(self._awaiting).__name__} with send() first")
            event = self._queued.popleft() if self._queued else self._next_event()
            if event is None:
                return
            if isinstance(event, NEEDS_REPLY):
                self._awaiting = event
            yield event

    def send(self, reply: Reply) -> None:
        """Answer the event the engine is waiting on."""
        event = self._awaiting
        if event is None:
            raise LocalProtocolError("no event is waiting for a reply")
        self._awaiting = None
        if isinstance(event, ev.MailFrom) and reply.positive:
            self._sender, self._params = event.sender.mailbox, event.params
            self.state = TRANSITIONS[(self.state, ev.MailFrom)]
        elif isinstance(event, ev.RcptTo):
            if reply.positive:
                self._recipients.append(ev.Recipient(event.recipient.mailbox, event.params))
                self.state = TRANSITIONS[(self.state, ev.RcptTo)]
        elif isinstance(event, ev.AuthCredentials):
            self._sasl = None
            if reply.positive:
                self.auth_user = event.username
            self.state = TRANSITIONS[(self.state, ev.AuthCredentials)]
        elif isinstance(event, ev.SecretNeeded | ev.TokenCredentials):
            if reply.code < 400:
                self._awaiting = event
                raise LocalProtocolError(f"send() ends {type(event).__name__} with a 4xx or 5xx reply only")
            self._sasl = None
            self.state = State.READY
        elif isinstance(event, ev.DataComplete):
            self.state = TRANSITIONS[(self.state, ev.DataComplete)]
            self._reset_transaction()
        self._reply(reply)

    def tls_started(self) -> None:
        """The host finished the TLS handshake: start over from EHLO (RFC 3207 §4.2)."""
        if self.state is not State.STARTTLS:
            raise LocalProtocolError("tls_started() without an accepted STARTTLS")
        self.state = TRANSITIONS[(self.state, TLSEstablished)]
        if not self.config.keep_plaintext_after_starttls:
            self._buffer.clear()
        self.tls = True
        self.helo, self.esmtp, self.auth_user = "", False, None
        self._reset_transaction()

    def shutdown(self) -> None:
        """The server is going away: 421 and close (RFC 5321 §3.8)."""
        if self.state is not State.CLOSED:
            self._reply(replies.shutting_down(self.config.hostname), closing=True)
            self._queued.append(self._close("the server shut down"))

    def outgoing(self) -> list[Output]:
        """Take the replies written since the last call, one entry per reply."""
        out, self._outbox = self._outbox, []
        return out

    def data_to_send(self) -> bytes:
        """Take the bytes to write since the last call."""
        return b"".join(o.data for o in self.outgoing())

    @property
    def extensions(self) -> list[str]:
        """The EHLO keywords on offer now, in Postfix's order."""
        c = self.config
        offered = [
            ("PIPELINING", c.pipelining),
            (f"SIZE {c.max_message_size}" if c.max_message_size else "SIZE", True),
            ("VRFY", c.vrfy),
            ("STARTTLS", c.starttls and not self.tls),
            ("AUTH " + " ".join(self._mechanisms()), self._auth_offered()),
            ("ENHANCEDSTATUSCODES", c.enhanced_status_codes),
            ("8BITMIME", c.eightbitmime),
            ("DSN", c.dsn),
            ("SMTPUTF8", c.smtputf8),
            ("CHUNKING", c.chunking),
        ]
        return [keyword for keyword, on in offered if on]

    # --- internals -------------------------------------------------------------

    def _mechanisms(self) -> list[str]:
        return [m for m in self.config.auth_mechanisms if m.upper() in sasl.SASL_SERVERS]

    def _auth_offered(self) -> bool:
        return bool(self._mechanisms()) and (self.tls or not self.config.auth_requires_tls)

    def _keywords(self) -> set[str]:
        # The offer changes only with TLS; keep the set for the two cases.
        cached = self._keyword_cache.get(self.tls)
        if cached is None:
            cached = self._keyword_cache[self.tls] = {line.split(" ", 1)[0] for line in self.extensions}
        return cached

    def _reset_transaction(self) -> None:
        self._sender = ""
        self._params = ev.MailParams()
        self._recipients: list[ev.Recipient] = []
        self._content = bytearray()
        self._size = 0
        self._data_error: Reply | None = None
        self._bare = ""  # "LF" or "CR" once a bare line ending was seen in DATA
        self._after_bare_lf = False

    def _reply(self, reply: Reply, *, closing: bool = False) -> None:
        """Queue a reply; count errors, and hang up with 421 when there are too many.

        Args:
            closing: the reply ends the session anyway, so it is not counted.
        """
        if not self.config.enhanced_status_codes and reply.enhanced:
            reply = Reply(reply.code, None, reply.lines, reply.explain, reply.rfc)
        self._outbox.append(Output(format_reply(reply), reply))
        # Postfix counts errors but not recipients past the limit (smtpd_recipient_overshoot_limit).
        counted = reply.code >= 400 and reply != replies.TOO_MANY_RECIPIENTS
        if counted and not closing and self.state is not State.CLOSED:
            self.errors += 1
            if self.errors >= self.config.hard_error_limit:
                too_many = replies.too_many_errors(self.config.hostname)
                self._outbox.append(Output(format_reply(too_many), too_many))
                self._queued.append(self._close("too many errors"))

    def _close(self, reason: str) -> ev.ConnectionClosed:
        self.state = State.CLOSED
        self._buffer.clear()
        self._chunk = None
        return ev.ConnectionClosed(reason)

    def _allowed(self, kind: type[ev.Event]) -> bool:
        """Consult the table; answer 503 with Postfix's wording when the command is out of turn."""
        if (self.state, kind) in TRANSITIONS:
            return True
        self._reply(sequence_error(self.state, kind))
        return False

    def _next_event(self) -> ev.Event | None:
        """Process input until an event happens or more input is needed."""
        while self.state not in (State.CLOSED, State.CONNECTED, State.STARTTLS):
            if self._chunk is not None:
                step = self._read_chunk()
            elif self.state is State.DATA:
                step = self._read_data()
            elif self.state is State.AUTH:
                step = self._read_sasl_line()
            else:
                step = self._read_command()
            if step is _MORE:
                break
            if isinstance(step, ev.Event):
                return step
            if self._queued:
                return self._queued.popleft()
        if self._queued:
            return self._queued.popleft()
        if self._eof and self.state is not State.CLOSED:
            if self.state in (State.DATA, State.BDAT) or self._chunk is not None:
                return self._close("the client closed the connection mid-message: nothing is stored")
            return self._close("the client closed the connection")
        return None

    def _refuses_bare(self, line: Line) -> bool:
        """A command line with a bare CR or LF is refused, except a bare LF by a "line-end" server."""
        return line.bare_cr or (line.bare_lf and self.config.bare_newline != "line-end")

    def _hang_up_bare(self, line: Line | str) -> ev.Event:
        """Bare CR or LF: refuse like Postfix with smtpd_forbid_bare_newline = reject."""
        char = line if isinstance(line, str) else "LF" if line.bare_lf else "CR"
        self._reply(replies.bare_newline(char), closing=True)
        self._reset_transaction()
        return self._close(f"bare <{char}> received")

    # --- command mode ------------------------------------------------------------

    def _line_limit(self) -> int:
        limit = self.config.command_line_limit + ESMTP_PARAMETER_ALLOWANCE
        return max(limit, AUTH_LINE_LIMIT) if self.config.auth_mechanisms else limit

    def _read_command(self) -> ev.Event | _More | None:
        line = self._buffer.take_line(self._line_limit())
        if line is None:
            return _MORE
        if self._refuses_bare(line):
            return self._hang_up_bare(line)
        command = parse_command(line.content)
        verb = command.verb
        limit = self.config.command_line_limit
        if verb in ("MAIL", "RCPT"):
            limit += ESMTP_PARAMETER_ALLOWANCE
        elif verb == "AUTH":
            limit = AUTH_LINE_LIMIT
        if line.too_long or line.length > limit:
            self._reply(replies.LINE_TOO_LONG)
            return None
        if not verb:
            self._reply(replies.BAD_SYNTAX)
            return None
        if verb in HTTP_VERBS or verb.endswith(":"):
            self._reply(replies.HTTP_COMMAND, closing=True)
            return self._close("a web request, not SMTP")
        handler = _HANDLERS.get(verb)
        if handler is None:
            self._reply(replies.NOT_RECOGNIZED)
            return None
        return handler(self, command.argument)

    def _ehlo(self, argument: str, *, extended: bool) -> ev.Event | None:
        kind: type[ev.Event] = ev.Ehlo if extended else ev.Helo
        if not argument:
            self._reply(replies.syntax(f"{'EHLO' if extended else 'HELO'} hostname", enhanced=None))
            return None
        if not self._allowed(kind):
            return None
        self._reset_transaction()
        self.state = TRANSITIONS[(self.state, kind)]
        self.helo, self.esmtp = argument, extended
        if extended:
            self._reply(replies.ehlo(self.config.hostname, self.extensions))
            return ev.Ehlo(argument)
        self._reply(replies.helo(self.config.hostname))
        return ev.Helo(argument)

    def _mail(self, argument: str) -> ev.Event | None:
        if not self._allowed(ev.MailFrom):
            return None
        try:
            sender, params = parse_mail(argument, self._keywords())
        except SyntaxProblem as problem:
            self._reply(problem.reply)
            return None
        if params.size is not None and self.config.max_message_size and params.size > self.config.max_message_size:
            self._reply(replies.MESSAGE_TOO_BIG)  # RFC 1870 §6: refuse before any data moves
            return None
        return ev.MailFrom(sender, params)

    def _rcpt(self, argument: str) -> ev.Event | None:
        if not self._allowed(ev.RcptTo):
            return None
        try:
            recipient, params = parse_rcpt(argument, self._keywords(), utf8=self._params.smtputf8)
        except SyntaxProblem as problem:
            self._reply(problem.reply)
            return None
        if len(self._recipients) >= self.config.max_recipients:
            self._reply(replies.TOO_MANY_RECIPIENTS)  # RFC 5321 §4.5.3.1.10: earlier ones stand
            return None
        return ev.RcptTo(recipient, params)

    def _data(self, argument: str) -> ev.Event | None:
        if argument:
            self._reply(replies.syntax("DATA"))
            return None
        if not self._allowed(ev.Data):
            return None
        self.state = TRANSITIONS[(self.state, ev.Data)]
        self._reply(replies.START_DATA)
        return ev.Data()

    def _bdat(self, argument: str) -> ev.Event | None:
        if not self.config.chunking:
            self._reply(replies.NOT_RECOGNIZED)  # not offered: BDAT is just an unknown word
            return None
        words = argument.split(" ")
        size_text = words[0]
        last = len(words) == 2 and words[1].upper() == "LAST"
        if not (size_text.isascii() and size_text.isdigit() and len(size_text) <= 20) or len(words) != 1 + last:
            # Without a valid size nobody can tell where the chunk ends: hang up (RFC 3030 §3).
            self._reply(replies.syntax("BDAT count [LAST]"), closing=True)
            return self._close("BDAT without a valid size")
        size = int(size_text)
        error: Reply | None = None
        if (self.state, ev.Bdat) not in TRANSITIONS:
            error = sequence_error(self.state, ev.Bdat)
        elif self.config.max_message_size and self._size + size > self.config.max_message_size:
            error = replies.MESSAGE_FILE_TOO_BIG
        else:
            self.state = TRANSITIONS[(self.state, ev.Bdat)]
        # RFC 3030 §2: a refused chunk is still read, so the next command is found.
        self._chunk = _Chunk(size, size, last, error)
        return None

    def _read_chunk(self) -> ev.Event | _More | None:
        chunk = self._chunk
        assert chunk is not None
        data = self._buffer.take_upto(chunk.remaining)
        chunk.remaining -= len(data)
        if chunk.error is None:
            self._content += data
            self._size += len(data)
        if chunk.remaining:
            return _MORE
        self._chunk = None
        if chunk.error is not None:
            # RFC 3030 §2: a refused chunk fails the whole transaction; chunks already
            # pipelined behind it meet "need RCPT command" and are read and dropped too.
            if self.state in (State.MAIL, State.RCPT, State.BDAT):
                self._reset_transaction()
                self.state = State.READY
            self._reply(chunk.error)
            return None
        if chunk.last:
            self._queued.append(self._complete())
        else:
            self._reply(replies.chunk_ok(chunk.size))
        return ev.Bdat(chunk.size, chunk.last)

    def _complete(self) -> ev.DataComplete:
        envelope = ev.Envelope(
            helo=self.helo,
            sender=self._sender,
            recipients=tuple(self._recipients),
            params=self._params,
            esmtp=self.esmtp,
            tls=self.tls,
            auth_user=self.auth_user,
        )
        return ev.DataComplete(envelope, bytes(self._content))

    def _rset(self, argument: str) -> ev.Event | None:
        if argument:
            self._reply(replies.syntax("RSET"))
            return None
        if not self._allowed(ev.Rset):
            return None
        self._reset_transaction()
        self.state = TRANSITIONS[(self.state, ev.Rset)]
        self._reply(replies.RSET_OK)
        return ev.Rset()

    def _noop(self, argument: str) -> ev.Event | None:
        del argument  # RFC 5321 §4.1.1.9: any parameter is ignored
        self._reply(replies.NOOP_OK)
        return ev.Noop()

    def _help(self, argument: str) -> ev.Event | None:
        offered = self._keywords()
        optional = {"STARTTLS": "STARTTLS", "AUTH": "AUTH", "BDAT": "CHUNKING", "VRFY": "VRFY"}
        verbs = [v for v in sorted(_HANDLERS) if v not in optional or optional[v] in offered]
        self._reply(replies.help_text(verbs))
        return ev.Help(argument)

    def _vrfy(self, argument: str) -> ev.Event | None:
        if not self.config.vrfy:
            self._reply(replies.VRFY_DISABLED)
            return None
        if not argument:
            self._reply(replies.syntax("VRFY address"))
            return None
        return ev.Vrfy(parse_vrfy(argument))

    def _quit(self, argument: str) -> ev.Event | None:
        del argument
        self._reply(replies.BYE)
        self._queued.append(self._close("the client said QUIT"))
        return ev.Quit()

    def _starttls(self, argument: str) -> ev.Event | None:
        if argument:
            self._reply(replies.syntax("STARTTLS"))
            return None
        if self.tls:
            self._reply(replies.TLS_ALREADY)
            return None
        if not self.config.starttls:
            self._reply(replies.TLS_UNAVAILABLE)
            return None
        if not self._allowed(ev.StartTLS):
            return None
        self._reply(replies.READY_TLS)
        # RFC 3207 §4.2 / CVE-2011-0411: anything pipelined after STARTTLS was sent in
        # clear text and must not be taken as if it came over TLS.
        if not self.config.keep_plaintext_after_starttls:
            self._buffer.clear()
        self.state = TRANSITIONS[(self.state, ev.StartTLS)]
        return ev.StartTLS()

    # --- AUTH (RFC 4954) ---------------------------------------------------------

    def _auth(self, argument: str) -> ev.Event | None:
        if not self.config.auth_mechanisms:
            self._reply(replies.AUTH_NOT_ENABLED)
            return None
        if self.auth_user is not None:
            self._reply(replies.AUTH_ALREADY)
            return None
        if not self._allowed(ev.Auth):
            return None
        if not self._auth_offered():
            self._reply(replies.AUTH_NEEDS_TLS)
            return None
        words = argument.split()
        if not words or len(words) > 2:
            self._reply(replies.AUTH_SYNTAX)
            return None
        mechanism = words[0].upper()
        server = None
        if mechanism in (m.upper() for m in self._mechanisms()):
            server = sasl.create_server(mechanism, hostname=self.config.hostname, rng=self._rng)
        if server is None:
            self._reply(replies.AUTH_UNKNOWN_MECHANISM)
            return None
        self._sasl = server
        self.state = TRANSITIONS[(self.state, ev.Auth)]
        self._continue_sasl(server.begin(words[1] if len(words) == 2 else None))
        return ev.Auth(mechanism)

    def _read_sasl_line(self) -> ev.Event | _More | None:
        line = self._buffer.take_line(AUTH_LINE_LIMIT)
        if line is None:
            return _MORE
        if self._refuses_bare(line):
            return self._hang_up_bare(line)
        if line.too_long:
            self._sasl_fail(replies.AUTH_LINE_TOO_LONG)
            return None
        assert self._sasl is not None
        self._continue_sasl(self._sasl.feed(line.content.decode("ascii", errors="replace")))
        return None

    def _continue_sasl(self, outcome: sasl.Outcome) -> None:
        """Act on what the mechanism says: a 334 challenge, an event for the node, 235, or the failure reply."""
        mechanism = self._sasl
        assert mechanism is not None
        if isinstance(outcome, sasl.Challenge):
            self._reply(replies.auth_challenge(outcome.data))
        elif isinstance(outcome, sasl.Credentials):
            self._queued.append(ev.AuthCredentials(mechanism.name, outcome.username, outcome.password, outcome.authzid))
        elif isinstance(outcome, sasl.SecretRequest):
            self._queued.append(ev.SecretNeeded(outcome.mechanism, outcome.username, outcome.authzid))
        elif isinstance(outcome, sasl.BearerCredentials):
            self._queued.append(
                ev.TokenCredentials(outcome.mechanism, outcome.username, outcome.token, outcome.host, outcome.port)
            )
        elif isinstance(outcome, sasl.Success):
            self._sasl = None
            self.auth_user = outcome.username
            self.state = TRANSITIONS[(self.state, ev.AuthCredentials)]
            self._reply(replies.AUTH_OK)
            self._queued.append(ev.SaslVerified(mechanism.name, outcome.username, outcome.authzid))
        else:
            self._sasl_fail(SASL_FAILURE_REPLIES[outcome.kind])

    def _sasl_fail(self, reply: Reply) -> None:
        self._sasl = None
        self.state = State.READY
        self._reply(reply)

    # --- DATA (RFC 5321 §4.1.1.4, §4.5.2) ----------------------------------------

    def _read_data(self) -> ev.Event | _More | None:
        """Take every whole line buffered in one go while they are clean (the common case).

        Lines with a bare CR or LF, over-long lines, or a message already in error go
        through _read_data_line one at a time, which decides the same way; this is
        only the fast path, and the split-independence property test holds them equal.
        """
        if self._data_error is not None or self._bare or self._after_bare_lf:
            return self._read_data_line()
        data = self._buffer.complete_lines()
        if not data:
            return self._read_data_line()
        end = 0 if data.startswith(b".\r\n") else data.find(b"\r\n.\r\n")
        body = data if end < 0 else data[: end + 2 if end else 0]
        crlf = body.count(b"\r\n")
        if body.count(b"\n") != crlf or body.count(b"\r") != crlf or self._long_line(body):  # a bare CR or LF
            return self._read_data_line()
        self._buffer.discard(len(body) + (3 if end >= 0 else 0))
        if body.startswith(b"."):
            body = body[1:]
        body = body.replace(b"\r\n.", b"\r\n")  # undo dot-stuffing (RFC 5321 §4.5.2)
        self._size += len(body)
        if self.config.max_message_size and self._size > self.config.max_message_size:
            self._data_error = replies.MESSAGE_FILE_TOO_BIG
            self._content.clear()
        else:
            self._content += body
        if end < 0:
            return None
        return self._end_of_data()

    def _end_of_data(self) -> ev.Event | None:
        """The final dot: hand the message over, or refuse it if something went wrong on the way."""
        if self._data_error is None:
            return self._complete()
        error = self._data_error
        self._reset_transaction()
        self.state = State.READY
        self._reply(error)
        return None

    def _long_line(self, body: bytes) -> bool:
        limit = self.config.text_line_limit - 2  # octets of text, CRLF not counted
        return len(body) > limit and max(map(len, body.split(b"\r\n"))) > limit

    def _read_data_line(self) -> ev.Event | _More | None:
        line = self._buffer.take_line(self.config.text_line_limit)
        if line is None:
            return _MORE
        if self.config.bare_newline == "line-end" and line.bare_lf and not line.bare_cr:
            line = line._replace(bare_lf=False)  # the smuggling receiver: LF ends a line like CRLF
        elif self.config.bare_newline == "keep" and (line.bare_lf or line.bare_cr):
            self._keep_bare(line)
            return None
        if line.bare_lf or line.bare_cr:
            # Like Postfix, read on to the real end of data (CRLF . CRLF), then refuse:
            # a "." after a bare LF is not an end, which is what defeats smuggling.
            self._bare = self._bare or ("LF" if line.bare_lf else "CR")
            self._after_bare_lf = line.bare_lf
            self._content.clear()
            return None
        content = line.content
        after_bare_lf, self._after_bare_lf = self._after_bare_lf, False
        if content == b"." and not line.too_long and not after_bare_lf:
            if self._bare:
                return self._hang_up_bare(self._bare)
            return self._end_of_data()
        if line.too_long and self._data_error is None:
            self._data_error = replies.TEXT_LINE_TOO_LONG
        if content.startswith(b".") and not after_bare_lf:
            content = content[1:]  # undo dot-stuffing (a line after a bare LF starts no line)
        self._size += len(content) + 2
        if self.config.max_message_size and self._size > self.config.max_message_size:
            self._data_error = self._data_error or replies.MESSAGE_FILE_TOO_BIG
        if self._data_error is None and not self._bare:
            self._content += content + CRLF
        else:
            self._content.clear()  # keep reading to the dot, but keep nothing
        return None

    def _keep_bare(self, line: Line) -> None:
        """A "keep" server: bare CRs and LFs are message octets, and a line after a bare LF is no line start.

        So `<LF>.<CR><LF>` is neither an end of data nor a dot to unstuff: it is kept as it came,
        and a relay that sends the message on byte for byte hands it to the next server.
        """
        content = line.content
        after_bare_lf, self._after_bare_lf = self._after_bare_lf, line.bare_lf
        if content.startswith(b".") and not after_bare_lf:
            content = content[1:]  # undo dot-stuffing at a real line start
        kept = content + (b"\n" if line.bare_lf else CRLF)
        self._size += len(kept)
        if line.too_long and self._data_error is None:
            self._data_error = replies.TEXT_LINE_TOO_LONG
        if self.config.max_message_size and self._size > self.config.max_message_size:
            self._data_error = self._data_error or replies.MESSAGE_FILE_TOO_BIG
        if self._data_error is None:
            self._content += kept
        else:
            self._content.clear()


class _More:
    """Marker: the buffer holds no complete unit yet."""


_MORE = _More()

_HANDLERS: dict[str, Callable[[SMTPServer, str], ev.Event | None]] = {
    "EHLO": lambda s, a: s._ehlo(a, extended=True),
    "HELO": lambda s, a: s._ehlo(a, extended=False),
    "MAIL": SMTPServer._mail,
    "RCPT": SMTPServer._rcpt,
    "DATA": SMTPServer._data,
    "BDAT": SMTPServer._bdat,
    "RSET": SMTPServer._rset,
    "NOOP": SMTPServer._noop,
    "HELP": SMTPServer._help,
    "VRFY": SMTPServer._vrfy,
    "QUIT": SMTPServer._quit,
    "STARTTLS": SMTPServer._starttls,
    "AUTH": SMTPServer._auth,
}
