"""Delivery status notifications: the bounces and delay warnings an MTA mails back to the sender.

A DSN is an ordinary message with a machine-readable core (RFC 3464): a multipart/report
(RFC 6522) holding a note for people, a message/delivery-status part with one block of
fields per recipient, and the original message or its header. The MTA sends it from the
null sender, MAIL FROM:<>, so that a DSN that cannot be delivered is dropped rather than
answered with another DSN (RFC 5321 §4.5.5, §6.1). The layout follows Postfix's bounces,
which is what a learner will meet in a real mailbox.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from simulator.mail.headers import EPOCH, crlf_line_ends, fold, message_id, rfc5322_date, split_header_section

ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
"""The values of the Action field (RFC 3464 §2.3.3)."""

_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")  # RFC 3463 §2
_TYPED = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\s*;")  # "smtp; ...", "rfc822;...", "dns; ..."

# Header objects for the fields the email package knows (From, Date, Content-Type ...);
# our own fields are set raw and pre-folded, and refold_source="none" keeps them as written.
_POLICY = email.policy.SMTP.clone(refold_source="none")
_POLICY_UTF8 = email.policy.SMTPUTF8.clone(refold_source="none")

SUBJECTS = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
    "delivered": "Successful Mail Delivery Report",
}


@dataclass(frozen=True)
class RecipientStatus:
    """What became of one recipient: one per-recipient block of a DSN (RFC 3464 §2.3).

    Attributes:
        recipient: the address the MTA tried, written as Final-Recipient: rfc822; ADDRESS.
        action: "failed", "delayed", "delivered", "relayed" or "expanded" (§2.3.3).
        status: the RFC 3463 enhanced status code, such as "5.1.1" (§2.3.4).
        remote_mta: the host name of the server that answered, written as Remote-MTA: dns; HOST.
        diagnostic: the typed Diagnostic-Code value, such as "smtp; 550 5.1.1 <nobody@example.org>: ...";
            a value without a type is taken as an SMTP reply and gets "smtp; " in front (§2.3.6).
        original_recipient: the ORCPT as given, such as "rfc822;bob@example.org" (RFC 3461 §4.2).
        will_retry_until: for "delayed", the simulated second the MTA gives up (§2.3.9).
    """

    recipient: str
    action: str
    status: str
    remote_mta: str | None = None
    diagnostic: str | None = None
    original_recipient: str | None = None
    will_retry_until: float | None = None


def should_bounce(envelope_sender: str) -> bool:
    """Whether a DSN may be sent for a message from this sender: never to the null sender (RFC 5321 §6.1)."""
    return envelope_sender not in ("", "<>")


def should_notify(notify: tuple[str, ...] | None, action: str) -> bool:
    """Whether the sender asked for a DSN of this kind with RCPT TO's NOTIFY (RFC 3461 §4.1).

    Without NOTIFY an MTA reports failures and may report delays; NOTIFY=NEVER silences both.
    """
    if notify is None:
        return action in ("failed", "delayed")
    wanted = {word.upper() for word in notify}
    if action == "failed":
        return "FAILURE" in wanted
    if action == "delayed":
        return "DELAY" in wanted
    return "SUCCESS" in wanted


def build_dsn(
    *,
    reporting_mta: str,
    original: bytes,
    envelope_sender: str,
    recipients: Sequence[RecipientStatus],
    arrival_seconds: float,
    now_seconds: float,
    envid: str | None,
    ret: str | None,
    postmaster: str,
    queue_id: str,
    counter: int,
) -> bytes:
    """A complete DSN message, CRLF line endings, for the MTA to send from <> to `envelope_sender`.

    Args:
        reporting_mta: the host name of the MTA writing the report.
        original: the message as queued.
        envelope_sender: the original message's MAIL FROM, who receives the report.
        recipients: one status per recipient reported; more than one kind may be mixed,
            the subject then names the most serious (failed, then delayed).
        arrival_seconds: when the MTA accepted the original (Arrival-Date).
        now_seconds: when the report is written (Date, Message-Id).
        envid: MAIL FROM's ENVID, xtext-decoded, echoed as Original-Envelope-Id (RFC 3461 §4.4).
        ret: MAIL FROM's RET. "HDRS" returns only the original's header section
            (text/rfc822-headers). "FULL", and also no RET at all, return the whole message
            (message/rfc822): RFC 3461 §4.3 leaves the default to the MTA, and Postfix's
            default is the full message.
        postmaster: the address the text part suggests writing to for help.
        queue_id: the original's queue ID, shown in the report and part of the MIME boundary.
        counter: a number unique per report on this MTA, for the Message-Id and boundary.

    Raises:
        ValueError: no recipients, or an unknown action or malformed status code.
    """
    if not should_bounce(envelope_sender):
        raise ValueError("no DSN is ever sent to the null sender (RFC 5321 §6.1, RFC 3464 §2)")
    if not recipients:
        raise ValueError("a DSN reports on at least one recipient")
    for rs in recipients:
        if rs.action not in ACTIONS:
            raise ValueError(f"unknown DSN action {rs.action!r}; expected one of {ACTIONS}")
        if not _STATUS.fullmatch(rs.status):
            raise ValueError(f"malformed status code {rs.status!r}; expected class.subject.detail")

    original = crlf_line_ends(original)
    kind = _kind(recipients)
    full = (ret or "FULL").upper() != "HDRS"
    returned = original if full else split_header_section(original)[0]
    human = _human_text(reporting_mta, kind, recipients, arrival_seconds, now_seconds, postmaster, full)
    # Internationalised addresses or replies (RFC 6531) make the header fields UTF-8 (RFC 6532).
    fields = [envelope_sender, reporting_mta, envid or ""]
    for rs in recipients:
        fields += [rs.recipient, rs.remote_mta or "", rs.diagnostic or "", rs.original_recipient or ""]
    utf8 = not all(text.isascii() for text in fields)
    policy = _POLICY_UTF8 if utf8 else _POLICY

    report = EmailMessage(policy=policy)
    report["From"] = f"MAILER-DAEMON@{reporting_mta} (Mail Delivery System)"
    report["To"] = envelope_sender
    report["Subject"] = SUBJECTS[kind]
    report["Date"] = rfc5322_date(now_seconds)
    report["Message-Id"] = message_id(now_seconds, f"{queue_id}.{counter}", reporting_mta)
    report["Auto-Submitted"] = "auto-replied"  # RFC 3834 §5: no auto-responder should answer this
    report["MIME-Version"] = "1.0"
    boundary = _boundary(f"{queue_id}.{counter}/{reporting_mta}", [human.encode("utf-8"), returned])
    _set_folded(report, "Content-Type", f'multipart/report; report-type=delivery-status; boundary="{boundary}"')
    if utf8 or not human.isascii() or not returned.isascii():
        # A multipart's encoding is the widest of its parts' (RFC 2045 §6.4); the caller
        # must then send the report with BODY=8BITMIME.
        report["Content-Transfer-Encoding"] = "8bit"
    report.preamble = "This is a MIME-encapsulated message."

    notification = EmailMessage(policy=policy)
    if human.isascii():
        notification.set_content(human, charset="us-ascii", cte="7bit")
    else:
        notification.set_content(human, charset="utf-8", cte="8bit")
    del notification["MIME-Version"]  # set_content adds it, but only the top level needs it (RFC 2045 §4)
    notification["Content-Description"] = "Notification"  # after set_content, which clears Content-*
    report.attach(notification)

    status = EmailMessage(policy=policy)
    status["Content-Description"] = "Delivery report"
    status["Content-Type"] = "message/delivery-status"
    per_message = [
        ("Original-Envelope-Id", envid),
        ("Reporting-MTA", f"dns; {reporting_mta}"),
        ("Arrival-Date", rfc5322_date(arrival_seconds)),
        # Extension fields, as Postfix writes them: what the MTA's log calls this message.
        ("X-Postfix-Queue-ID", queue_id),
        ("X-Postfix-Sender", f"rfc822; {envelope_sender}"),
    ]
    status.set_payload([_block(per_message, policy), *(_block(_recipient_fields(rs), policy) for rs in recipients)])
    report.attach(status)

    # The returned message is a raw string payload, which the generator writes byte for byte
    # (see _VerbatimGenerator); a parsed Message would be re-serialised and could come back
    # refolded, which a learner comparing the two would rightly call a change.
    enclosed = EmailMessage(policy=policy)
    what = "Delivered Message" if kind == "delivered" else "Undelivered Message"
    enclosed["Content-Description"] = what if full else f"{what} Headers"
    enclosed["Content-Type"] = "message/rfc822" if full else "text/rfc822-headers"
    enclosed["Content-Transfer-Encoding"] = "7bit" if returned.isascii() else "8bit"
    enclosed.set_payload(returned.decode("ascii", "surrogateescape"))
    report.attach(enclosed)

    out = io.BytesIO()
    _VerbatimGenerator(out, policy=policy).flatten(report)
    return out.getvalue()


def parse_dsn(message: bytes) -> list[RecipientStatus]:
    """The per-recipient statuses of a DSN, read back from its message/delivery-status part (RFC 3464 §2.3).

    Types are stripped from Final-Recipient ("rfc822; ") and Remote-MTA ("dns; "), kept in
    Diagnostic-Code and Original-Recipient, so `build_dsn` and `parse_dsn` round-trip.

    Raises:
        ValueError: the message has no message/delivery-status part.
    """
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    for part in parsed.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            blocks = part.get_payload()
            if not isinstance(blocks, list):
                break
            return [_status_from_block(block) for block in blocks[1:] if isinstance(block, Message)]
    raise ValueError("not a DSN: no message/delivery-status part")


# --- helpers ----------------------------------------------------------------------


if TYPE_CHECKING:  # generic in typeshed only
    _BytesGenerator = BytesGenerator[EmailMessage]
else:
    _BytesGenerator = BytesGenerator


class _VerbatimGenerator(_BytesGenerator):
    """A BytesGenerator that writes a message/rfc822 string payload back as the exact octets it came from.

    The stock generator writes such a payload as it is (CPython issue 7970) but encodes it as
    strict ASCII; with surrogateescape the 8-bit octets of the original survive too.
    """

    def _encode(self, s: str) -> bytes:
        return s.encode("ascii", "surrogateescape")


def _kind(recipients: Sequence[RecipientStatus]) -> str:
    """The kind of report, from its most serious recipient: failed, then delayed, then delivered."""
    actions = {rs.action for rs in recipients}
    if "failed" in actions:
        return "failed"
    if "delayed" in actions:
        return "delayed"
    return "delivered"


def _boundary(base: str, contents: Sequence[bytes]) -> str:
    """A MIME boundary from `base` that occurs in none of the parts (RFC 2046 §5.1.1), deterministically."""
    boundary, n = base, 0
    while any(f"--{boundary}".encode() in data for data in contents):
        n += 1
        boundary = f"{base}.{n}"
    return boundary


def _typed(value: str, default_type: str) -> str:
    """A DSN field value with its type prefix ("smtp; ", "rfc822; "), added when missing (RFC 3464 §2.1.2)."""
    return value if _TYPED.match(value) else f"{default_type}; {value}"


def _recipient_fields(rs: RecipientStatus) -> list[tuple[str, str | None]]:
    """The fields of one per-recipient block, in the order of RFC 3464 §2.3."""
    return [
        ("Original-Recipient", rs.original_recipient and _typed(rs.original_recipient, "rfc822")),
        ("Final-Recipient", f"rfc822; {rs.recipient}"),
        ("Action", rs.action),
        ("Status", rs.status),
        ("Remote-MTA", rs.remote_mta and f"dns; {rs.remote_mta}"),
        ("Diagnostic-Code", rs.diagnostic and _typed(rs.diagnostic, "smtp")),
        ("Will-Retry-Until", None if rs.will_retry_until is None else rfc5322_date(rs.will_retry_until)),
    ]


def _set_folded(msg: Message, name: str, value: str) -> None:
    """Add a field folded by `fold`, at whitespace only, and kept as written by refold_source="none".

    The email package's own folding would turn a long unbreakable token into an RFC 2047
    encoded word, which has no place in a DSN field, and quotes parameters Postfix leaves bare.
    """
    msg.set_raw(name, "\r\n".join(fold(f"{name}: {value}"))[len(name) + 2 :])


def _block(fields: list[tuple[str, str | None]], policy: email.policy.EmailPolicy[EmailMessage]) -> Message:
    """One header block of a message/delivery-status part; fields whose value is None are left out."""
    block = Message(policy=policy)
    for name, value in fields:
        if value is not None:
            _set_folded(block, name, value)
    return block


def _status_from_block(block: Message) -> RecipientStatus:
    """One per-recipient block read back into a RecipientStatus."""

    def get(name: str) -> str | None:
        value = block.get(name)
        return None if value is None else str(value).strip()

    def untyped(value: str | None) -> str | None:
        return None if value is None else value.split(";", 1)[-1].strip()

    retry = get("Will-Retry-Until")
    status = get("Status") or ""
    return RecipientStatus(
        recipient=untyped(get("Final-Recipient")) or "",
        action=(get("Action") or "").lower(),
        status=status.split()[0] if status else "",  # drop a trailing "(comment)"
        remote_mta=untyped(get("Remote-MTA")),
        diagnostic=get("Diagnostic-Code"),
        original_recipient=get("Original-Recipient"),
        will_retry_until=None if retry is None else _sim_seconds(retry),
    )


def _sim_seconds(date: str) -> float:
    """An RFC 5322 date read back as simulated seconds since the epoch."""
    return (parsedate_to_datetime(date) - EPOCH).total_seconds()


def _human_text(
    reporting_mta: str,
    kind: str,
    recipients: Sequence[RecipientStatus],
    arrival_seconds: float,
    now_seconds: float,
    postmaster: str,
    full: bool,
) -> str:
    """The text/plain part: what happened, in plain words, with each recipient and the reason given."""
    enclosed = "message" if full else "message's header"
    if kind == "failed":
        intro = [
            "Your message could not be delivered to one or more of its recipients.",
            "They are listed below, each with the reason the mail system was given.",
            "No further attempts will be made for them.",
            "",
            f"The returned {enclosed} is attached below this report.",
        ]
    elif kind == "delayed":
        intro = [
            "This is only a warning: there is no need to send your message again.",
            "",
            f"Your message has been waiting for {_duration(now_seconds - arrival_seconds)} and has not yet",
            "reached the recipients listed below. Delivery will be tried again,",
            "and you will be told if the mail system gives up.",
        ]
    else:
        intro = [
            "Your message was delivered to the recipients listed below.",
            "You receive this report because you asked for one (NOTIFY=SUCCESS).",
        ]
    lines = [
        f"This is the mail system at host {reporting_mta}.",
        "",
        *intro,
        "",
        f"If you need help with this, write to <{postmaster}> and include",
        "this report." + (" You may remove your own text from the returned message." if kind == "failed" else ""),
        "",
        f"{'':19}The mail system at {reporting_mta}",
        "",
    ]
    for rs in recipients:
        lines.append(_recipient_line(rs))
    return "\n".join(lines) + "\n"


def _recipient_line(rs: RecipientStatus) -> str:
    """One recipient in the text part, in the shape of a mail log line."""
    reason = rs.diagnostic.split(";", 1)[-1].strip() if rs.diagnostic else None
    if reason and rs.remote_mta:
        text = f"host {rs.remote_mta} said: {reason}"
    elif reason:
        text = reason
    else:
        text = f"{rs.action} (status {rs.status})"
    if rs.action == "delayed" and rs.will_retry_until is not None:
        text += f" (retrying until {rfc5322_date(rs.will_retry_until)})"
    return f"<{rs.recipient}>: {text}"


def _duration(seconds: float) -> str:
    """A span of simulated time in words, rounded down to what a person would say."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"
