"""The Simulation facade: build a world, step it, step back, run it, look inside.

    sim = Simulation.from_scenario("basic", seed=1)
    ev = sim.step()           # one trace event, or None when nothing is left
    sim.back()                # undo the last step
    sim.run(until=3600)       # simulated seconds, a predicate on TraceEvent, or None (until quiet)
    sim.submit("alice@example.com", ["bob@example.org"], "Subject: hi\\r\\n\\r\\nHello")
    sim.mailbox("bob@example.org"), sim.queue("smtp.example.com"), sim.outcome()

Stepping back is checkpoints plus deterministic replay: every so many steps
the whole world is pickled (the trace itself is kept aside and shared, since
events never change), and back() unpickles the last checkpoint before the
target and replays forward, re-applying the calls the user made (submit,
inject) at the step where they were made. Pickle rather than copy.deepcopy: it
is several times faster both ways, and a checkpoint held as bytes is compact
and has a size that can be budgeted.
"""

from __future__ import annotations

import copy
import gc
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field

from simulator.compare import COMPARED, Comparison, DeviceResult, ProfileResult, device_traffic, with_profile
from simulator.faults import Fault
from simulator.faults import parse as parse_fault
from simulator.mail.ledger import Ledger
from simulator.mail.queue import QueueEntry
from simulator.mail.store import StoredMessage, canonical_name
from simulator.net.kernel import Kernel
from simulator.net.observers import Tap
from simulator.nodes.device import MailDevice
from simulator.nodes.tls_channel import LiveTLSError
from simulator.protocol.imap.server import IMAPServer
from simulator.protocol.pop3.server import POP3Server
from simulator.protocol.smtp.client import SMTPClient
from simulator.protocol.smtp.server import SMTPServer
from simulator.scenarios.loader import build, load
from simulator.scenarios.schema import ClientHost, Host, MailServerHost, ScenarioSpec
from simulator.trace import TraceEvent
from simulator.world import World

# When to checkpoint: once stepping since the last checkpoint has cost COST_RATIO times what
# the last copy cost, and at least MIN_STEPS apart. So copying takes about 1/COST_RATIO of the
# time, however big the world, and back() replays at most COST_RATIO copies' worth of steps.
# Stepping by hand wants back() quick; run() wants throughput, and is rarely stepped back far.
# Old checkpoints are thinned to keep at most MAX_CHECKPOINTS and CHECKPOINT_BYTES in all,
# so a long run's memory stays bounded; back() then replays a little further. Where
# checkpoints fall changes only speed, never what happens: replay is deterministic.
COST_RATIO = 4.0  # while stepping with step()
RUN_COST_RATIO = 10.0  # while run() goes
MIN_STEPS = 50
MAX_CHECKPOINTS = 12
CHECKPOINT_BYTES = 256 * 1024 * 1024
ACCOUNTING_STEPS = 64  # run() reads the clock once per this many steps
RUN_GC_THRESHOLD = 50_000  # allocations between young-generation collections during run()
# A world with a TLS connection in progress cannot be pickled (OpenSSL's state is not copyable):
# the checkpoint is skipped and tried again this many steps later; back() replays from an older one.
TLS_RETRY_STEPS = 8


@dataclass(frozen=True)
class Submission:
    """A call to submit(), remembered so that replay can make it again at the same step."""

    step: int
    sender: str
    recipients: tuple[str, ...]
    content: bytes
    at: float | None

    def apply(self, world: World) -> None:
        world.submit(self.sender, list(self.recipients), self.content, self.at)


@dataclass(frozen=True)
class Injection:
    """A call to inject(), with a pristine copy of the fault so that replay can install it again."""

    step: int
    fault: Fault

    def apply(self, world: World) -> None:
        copy.deepcopy(self.fault).install(world)


@dataclass(frozen=True)
class MailCheck:
    """A call to check_mail()."""

    step: int
    device: str
    at: float

    def apply(self, world: World) -> None:
        world.check_mail(self.device, self.at)


@dataclass(frozen=True)
class WorldCall:
    """A change a facade built on this one made to the world (see `act`), made again on replay."""

    step: int
    call: Callable[[World], None]

    def apply(self, world: World) -> None:
        self.call(world)


Action = Submission | Injection | MailCheck | WorldCall


@dataclass
class _Checkpoint:
    step: int
    now: float
    world: bytes  # the pickled world with an empty trace: the live trace's first `length` events belong to it
    length: int


@dataclass(frozen=True)
class Outcome:
    """Where one recipient of one submitted message ended up."""

    message_id: str
    sender: str
    recipient: str
    status: str  # delivered, bounced, queued, rejected, submitted
    where: str
    detail: str
    copies: int


@dataclass(frozen=True)
class HostStatus:
    """One host of the world as a topology view shows it, at the current step."""

    name: str
    ip: str
    role: str  # the scenario's role: client, mail-server, dns, oauth
    up: bool  # False while a fault has it down
    tls: str  # how it uses TLS, in a few words ("STARTTLS", "implicit TLS", ...); "" for none
    queued: int  # messages in its outbound queue (mail servers; 0 elsewhere)


@dataclass(frozen=True)
class EngineState:
    """The state of one protocol engine on one end of a live connection."""

    conn: int
    host: str  # the host whose engine it is
    table: str  # the state table that names its states: "smtp", "smtp-client", "pop3" or "imap"
    state: str  # the state's name in that table, such as "RCPT"


@dataclass
class Simulation:
    """One world, its trace, and a cursor that steps forwards and back."""

    scenario: str  # a built-in name or the path of a .toml file
    seed: int = 1
    loaded: InitVar[ScenarioSpec | None] = None  # the scenario already read, so it is not read twice
    # Keep the NSS key log lines of every TLS connection (see tls_keylog), so that Wireshark can
    # decrypt a capture of this run; off by default, as nothing else needs the keys.
    keylog: bool = field(default=False, kw_only=True)
    _spec: ScenarioSpec = field(init=False, repr=False)
    _world: World = field(init=False)
    _shown: int = 0
    _now: float = 0.0
    _actions: list[Action] = field(default_factory=list)
    _checkpoints: list[_Checkpoint] = field(default_factory=list)
    _copy_cost: float = 0.0
    _copy_rates: list[float] = field(default_factory=list)  # seconds per pickled octet, the last three copies
    _stepping: float = 0.0  # seconds spent stepping since the last checkpoint
    _replaying: bool = False
    _freezing: bool = False  # run() is going: checkpoints freeze what exists (see run)
    _no_checkpoint_before: int = 0  # a step before which no checkpoint is tried (a TLS connection was live)

    def __post_init__(self, loaded: ScenarioSpec | None) -> None:
        self._spec = loaded if loaded is not None else load(self.scenario)
        self._world = build(self._spec, self.seed)
        if self.keylog:  # before the first checkpoint, so that every replay keeps keys too
            self._world.network.keylog = []
        self._checkpoint()

    @classmethod
    def from_scenario(
        cls,
        scenario: str,
        seed: int | None = None,
        *,
        keylog: bool = False,
        show_tcp: bool | None = None,
        faults: Sequence[str] = (),
    ) -> Simulation:
        """Build a scenario: a built-in name (see `smtpsim list`) or the path of a .toml file.

        Args:
            seed: the random seed; None takes the file's `seed`, or 1.
            keylog: keep the TLS connections' key log lines (see `tls_keylog`).
            show_tcp: trace TCP's handshakes, FINs and retransmissions too; None keeps the file's `show_tcp`.
            faults: fault specs to inject at the start, beside the scenario's own (as `--fault` does).

        Raises:
            ScenarioError: the file is missing or wrong (one line says where and what was expected);
                for an unknown built-in name it is also a KeyError.
            FaultSpecError: one of `faults` cannot be read or names what this world does not have.
        """
        spec = load(scenario)
        if show_tcp is not None:
            spec = spec.model_copy(update={"show_tcp": show_tcp})
        if seed is None:
            seed = spec.seed if spec.seed is not None else 1
        sim = cls(scenario, seed, spec, keylog=keylog)
        for fault in faults:
            sim.inject_spec(fault)
        return sim

    # --- observing ---------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds at the last step."""
        return self._now

    @property
    def trace(self) -> list[TraceEvent]:
        """The events stepped so far."""
        return self._world.tracer.events[: self._shown]

    @property
    def world(self) -> World:
        return self._world

    @property
    def spec(self) -> ScenarioSpec:
        """The scenario as read from its file: hosts, messages, faults, the outcomes it expects."""
        return self._spec

    @property
    def tls_keylog(self) -> list[str] | None:
        """The NSS key log lines of the TLS connections so far; None unless built with `keylog=True`."""
        lines = self._world.network.keylog
        return None if lines is None else list(lines)

    def mailbox(self, address: str, folder: str = "INBOX") -> list[StoredMessage]:
        """The messages in one folder of that user's mailbox, oldest first: INBOX, or "Junk" where the
        spam filter files what it suspects. A folder the user does not have (yet) is empty."""
        boxes = [b for s in self._world.servers.values() if (b := s.store.get(address)) is not None]
        if not boxes:
            raise KeyError(f"no mailbox for {address!r} in this world")
        # With a secondary MX that holds mailboxes too, the user sees both, oldest first.
        found = [box.folders[name] for box in boxes if (name := canonical_name(folder)) in box.folders]
        return sorted((m for box in found for m in box.messages.values()), key=lambda m: m.arrived)

    def mailboxes(self) -> dict[str, dict[str, list[StoredMessage]]]:
        """Every user of the scenario with a mailbox in this world, and their folders: INBOX, then those
        that hold mail (Junk, a folder an IMAP client made), by name."""
        found: dict[str, dict[str, list[StoredMessage]]] = {}
        for user in self._spec.user:
            accounts = [a for s in self._world.servers.values() if (a := s.store.get(user.address)) is not None]
            if not accounts:
                continue  # a user whose mail is kept elsewhere (a sender only)
            folders = {"INBOX": self.mailbox(user.address)}
            for name in sorted({name for account in accounts for name in account.folders} - {"INBOX"}):
                if messages := self.mailbox(user.address, name):
                    folders[name] = messages
            found[user.address] = folders
        return found

    def queues(self) -> dict[str, list[QueueEntry]]:
        """Each mail server's outbound queue (see `queue`)."""
        return {host.name: self.queue(host.name) for host in self.hosts() if host.role == "mail-server"}

    def compare_retrieval(self, profiles: Sequence[str] = COMPARED) -> Comparison:
        """Run this scenario once per retrieval profile, every reading device on it, and compare the runs.

        Each run starts from the scenario's beginning with this simulation's seed; this
        simulation itself is not touched. The figures come from each run's trace.

        Raises:
            ValueError: a profile that is unknown, or that the scenario's servers do not offer.
        """
        results = []
        for profile in profiles:
            spec = with_profile(self._spec, profile)
            run = Simulation(self.scenario, self.seed, spec)
            run.run()
            devices = tuple(
                DeviceResult(
                    name,
                    tuple(m.subject for m in d.messages.values()),
                    d.unread,
                    *device_traffic(run.trace, name),
                )
                for name, d in run.devices.items()
            )
            left = sum(
                len(account.messages)
                for server in run.world.servers.values()
                for account in server.store.mailboxes.values()
            )
            results.append(ProfileResult(profile, devices, left))
        return Comparison(self.scenario, tuple(results))

    @property
    def devices(self) -> dict[str, MailDevice]:
        """The devices that read mail, by host name; each shows what it has in `messages`."""
        return self._world.devices

    def readers(self) -> list[ClientHost]:
        """The devices that check their mailbox of their own accord in this scenario (they have `check_at`
        times): those `compare_retrieval` has something to compare for."""
        return [h for h in self._spec.host if isinstance(h, ClientHost) and h.retrieval is not None and h.check_at]

    @property
    def observers(self) -> dict[str, Tap]:
        """The eavesdroppers on the world's links ([[observer]]), by name; each keeps what it saw in `seen`."""
        return {tap.name: tap for tap in self._world.network.taps}

    def queue(self, node: str) -> list[QueueEntry]:
        try:
            server = self._world.servers[node]
        except KeyError:
            raise KeyError(f"no mail server named {node!r}; there are {', '.join(self._world.servers)}") from None
        return sorted(server.queue.entries.values(), key=lambda e: (e.next_attempt, e.queue_id))

    def hosts(self) -> list[HostStatus]:
        """Every host of the scenario, in its file's order: role, up or down, TLS, queue length."""
        status = []
        for host in self._spec.host:
            live = self._world.network.hosts.get(host.name)
            server = self._world.servers.get(host.name)
            status.append(
                HostStatus(
                    host.name,
                    host.ip,
                    host.role,
                    live.up if live is not None else False,
                    _tls_of(host),
                    len(server.queue.entries) if server is not None else 0,
                )
            )
        return status

    def engine_states(self) -> list[EngineState]:
        """The state of every SMTP, POP3 and IMAP engine on a connection still open, by connection.

        These are the states the engines' transition tables name (see
        simulator.views.state_diagram), so a front end can light the current one.
        """
        states = []
        for conn in sorted(self._world.network.connections.values(), key=lambda c: c.id):
            for side in ("client", "server"):
                found = _engine_state(getattr(conn.sides[side].endpoint, "engine", None))
                if found is not None:
                    states.append(EngineState(conn.id, conn.host_of(side), *found))
        return states

    def outcome(self) -> list[Outcome]:
        ledger: Ledger = self._world.ledger
        return [
            Outcome(m.message_id, m.sender, rcpt, r.status, r.where, r.detail, r.copies)
            for m in ledger.messages.values()
            for rcpt, r in m.recipients.items()
        ]

    # --- acting --------------------------------------------------------------------------

    def submit(self, sender: str, recipients: list[str], content: str | bytes, at: float | None = None) -> str:
        """Have the sender's mail client submit a message, now or at simulated time `at`.

        Returns:
            the Message-ID that follows the message through the trace and outcome().
        """
        data = content.encode() if isinstance(content, str) else content
        when = self._now if at is None else at  # an absolute time, so that replay repeats it exactly
        submission = Submission(self._shown, sender, tuple(recipients), data, when)
        message_id = self._world.submit(submission.sender, list(submission.recipients), submission.content, when)
        self._actions.append(submission)  # only once the world took it: replay must not fail
        return message_id

    def inject(self, fault: Fault) -> None:
        """Break something now (or at the fault's `at`): see simulator.faults for the catalogue."""
        pristine = copy.deepcopy(fault)
        copy.deepcopy(fault).install(self._world)  # raises FaultSpecError before anything changes
        self._actions.append(Injection(self._shown, pristine))

    def inject_spec(self, spec: str) -> Fault:
        """Break the world at the current point with a fault spec (the grammar is in simulator.faults).

        `at=` is a simulated time, and one already past (the default 0, once the world has run) means
        now, so that `for=` counts from here: `down:mx.example.org,for=3600` is an hour from now.
        Returns the fault as injected.

        Raises:
            FaultSpecError: the spec cannot be read, or names a host or address this world does not have.
        """
        fault = parse_fault(spec)
        fault.at = max(fault.at, self._now)
        self.inject(fault)
        return fault

    def check_mail(self, device: str, at: float | None = None) -> None:
        """Have a device check its mailbox, now or at simulated time `at` (see `devices`)."""
        check = MailCheck(self._shown, device, self._now if at is None else at)
        check.apply(self._world)
        self._actions.append(check)

    def act(self, call: Callable[[World], None]) -> None:
        """Change the world now with `call(world)`, and again at this step whenever back() replays past it.

        For facades built on this one, such as simulator.console's typed connections. `call`
        must depend only on the world it is given (and schedule at absolute times), so that
        replay repeats it exactly.
        """
        call(self._world)
        self._actions.append(WorldCall(self._shown, call))  # only once the world took it: replay must not fail

    def step(self) -> TraceEvent | None:
        """Advance to the next trace event; None when nothing is left to happen."""
        started = time.perf_counter()
        event = self._advance()
        if event is not None and not self._replaying:
            self._account(time.perf_counter() - started)
        return event

    def back(self) -> TraceEvent | None:
        """Undo the last step; returns the event now last in the trace (None at the start)."""
        if self._shown == 0:
            return None
        self._goto(self._shown - 1)
        return self.trace[-1] if self._shown else None

    def seek(self, steps: int) -> int:
        """Go to the point where `steps` events have happened, back or forward; returns where it stopped.

        Forward stops early when nothing is left to happen; a negative target is the start.
        """
        target = max(steps, 0)
        if target < self._shown:
            self._goto(target)
        while self._shown < target and self.step() is not None:
            pass
        return self._shown

    def run(self, until: float | Callable[[TraceEvent], bool] | None = None, max_steps: int = 10_000_000) -> int:
        """Step until quiet, past simulated time `until`, or until the predicate holds for an event.

        Returns:
            the number of steps taken.
        """
        # A long run makes millions of trace events that live as long as the simulation. The
        # collector would scan each of them again and again while looking for garbage among
        # the few objects that die, so while run() lasts it collects young objects less often,
        # and each checkpoint moves what exists by then out of its sight (gc.freeze). Both are
        # undone when run() returns, and garbage frozen meanwhile is collected as usual later.
        old = gc.get_threshold()
        gc.set_threshold(max(old[0], RUN_GC_THRESHOLD), *old[1:])
        self._freezing = True
        try:
            return self._run(until, max_steps)
        finally:
            self._freezing = False
            gc.unfreeze()
            gc.set_threshold(*old)

    def _run(self, until: float | Callable[[TraceEvent], bool] | None, max_steps: int) -> int:
        deadline = float(until) if isinstance(until, int | float) else None
        predicate = until if callable(until) else None
        taken = 0
        started = time.perf_counter()
        while taken < max_steps:
            if deadline is not None and not self._due_before(deadline):
                self._now = max(self._now, deadline)
                self._world.kernel.now = max(self._world.kernel.now, self._now)
                break
            event = self._advance()
            if event is None:
                break
            taken += 1
            if taken % ACCOUNTING_STEPS == 0:  # reading the clock every step would cost more than the steps
                self._account(time.perf_counter() - started)
                started = time.perf_counter()
            if predicate is not None and predicate(event):
                break
        self._account(time.perf_counter() - started)
        return taken

    # --- internals -------------------------------------------------------------------------

    def _advance(self) -> TraceEvent | None:
        events = self._world.tracer.events
        kernel: Kernel = self._world.kernel
        while len(events) <= self._shown:
            if not kernel.step():
                return None
        event = events[self._shown]
        self._shown += 1
        self._now = event.time
        return event

    def _account(self, seconds: float) -> None:
        """Count time spent stepping, and checkpoint once it is worth a copy."""
        self._stepping += seconds
        due = self._stepping >= (RUN_COST_RATIO if self._freezing else COST_RATIO) * self._copy_cost
        if due and self._shown - self._checkpoints[-1].step >= MIN_STEPS and self._shown >= self._no_checkpoint_before:
            self._checkpoint()

    def _due_before(self, until: float) -> bool:
        """Whether a trace event happens by `until`, running only kernel actions due by then."""
        events = self._world.tracer.events
        kernel = self._world.kernel
        while len(events) <= self._shown:
            nxt = kernel.peek()
            if nxt is None or nxt > until:
                return False
            kernel.step()  # due by `until`, so running it is no overrun even if it shows nothing
        return events[self._shown].time <= until

    def _checkpoint(self) -> None:
        started = time.perf_counter()
        tracer = self._world.tracer
        self._world.kernel.compact()
        events, tracer.events = tracer.events, []
        try:
            snapshot = pickle.dumps(self._world, protocol=pickle.HIGHEST_PROTOCOL)
        except LiveTLSError:
            if not self._checkpoints:
                raise  # the first checkpoint is taken before anything runs: no TLS can be live yet
            # Replay makes TLS connections again from an earlier checkpoint (with new keys and
            # so new ciphertext, which is the one thing outside the simulation's determinism).
            self._no_checkpoint_before = self._shown + TLS_RETRY_STEPS
            return
        finally:
            tracer.events = events
        checkpoints = self._checkpoints
        checkpoints.append(_Checkpoint(self._shown, self._now, snapshot, len(events)))
        while len(checkpoints) > 3 and (
            len(checkpoints) > MAX_CHECKPOINTS or sum(len(c.world) for c in checkpoints) > CHECKPOINT_BYTES
        ):
            # Keep the first and the two newest; drop every other one in between.
            middle = checkpoints[1:-2][1::2]
            checkpoints[:] = [checkpoints[0], *middle, *checkpoints[-2:]]
        # What a copy costs is its size at the fastest rate seen lately: one slow copy (the
        # machine was busy) must not space the next checkpoints far apart, or back() would
        # replay a long way, while a world that grew at once is priced at its new size.
        rate = (time.perf_counter() - started) / max(len(snapshot), 1)
        self._copy_rates = [*self._copy_rates[-2:], rate]
        self._copy_cost = len(snapshot) * min(self._copy_rates)
        self._stepping = 0.0
        if self._freezing:  # what exists now will mostly live on (see run); the young garbage goes first
            gc.collect(1)
            gc.freeze()

    def _goto(self, target: int) -> None:
        """Restore the last checkpoint at or before `target`, then replay to it.

        The collector is paused meanwhile: unpickling a world makes tens of thousands of objects
        at once, which would otherwise set off a full collection in the middle of a back().
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            self._restore_and_replay(target)
        finally:
            if paused:
                gc.enable()

    def _restore_and_replay(self, target: int) -> None:
        while self._checkpoints[-1].step > target:
            self._checkpoints.pop()
        checkpoint = self._checkpoints[-1]
        live = self._world.tracer.events
        world: World = pickle.loads(checkpoint.world)
        world.tracer.events = live[: checkpoint.length]
        self._world, self._shown, self._now = world, checkpoint.step, checkpoint.now
        pending = [a for a in self._actions if a.step >= checkpoint.step]
        self._actions = [a for a in self._actions if a.step < checkpoint.step]
        self._replaying = True
        try:
            for action in pending:
                if action.step > target:
                    continue  # made after the point we go back to: undone too
                while self._shown < action.step:
                    self.step()
                self._actions.append(action)
                action.apply(self._world)
            while self._shown < target:
                self.step()
        finally:
            self._replaying = False
        self._stepping = 0.0


def _tls_of(host: Host) -> str:
    """How a scenario host uses TLS, in a few words for a topology view."""
    if isinstance(host, MailServerHost):
        ways = [w for w, on in (("STARTTLS", host.starttls), ("implicit TLS", host.implicit_tls)) if on]
        if host.starttls_outbound != "never":
            ways.append(f"outbound {host.starttls_outbound}")
        return ", ".join(ways)
    if isinstance(host, ClientHost):
        if host.implicit_tls:
            return "implicit TLS"
        return f"STARTTLS {host.starttls}" if host.starttls != "never" else ""
    return ""


def _engine_state(engine: object) -> tuple[str, str] | None:
    """(state table, state name) of an engine; None for an engine without a table (or no engine)."""
    if isinstance(engine, SMTPServer):
        return "smtp", engine.state.name
    if isinstance(engine, SMTPClient):
        return "smtp-client", engine.state.name
    if isinstance(engine, POP3Server | IMAPServer):
        return ("pop3" if isinstance(engine, POP3Server) else "imap"), engine.state.name
    return None
