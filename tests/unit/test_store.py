"""The mail store: folders, UIDs, flags, \\Recent, and what each IMAP session and POP3 session is told."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from simulator.mail.store import (
    DELETED,
    FLAGGED,
    INBOX,
    RECENT,
    SEEN,
    Account,
    Exists,
    Expunge,
    FlagList,
    FlagMode,
    FlagsUpdate,
    FolderView,
    MailStore,
    Recent,
    StoreError,
    Update,
    list_names,
    match_pattern,
)


def deliver(account: Account, n: int = 1, at: float = 0.0) -> list[int]:
    return [account.append(f"Subject: {i}\r\n\r\nbody {i}\r\n".encode(), at + i, f"Q{i}").uid for i in range(n)]


def account_with(n: int) -> Account:
    account = Account("bob@example.org")
    deliver(account, n)
    return account


class Client:
    """What a client believes about a selected folder, built only from the updates it is sent."""

    def __init__(self, view: FolderView) -> None:
        self.uids: list[int | None] = list(view.uids)
        self.flags: dict[int, tuple[str, ...]] = {}

    def apply(self, updates: list[Update]) -> None:
        for update in updates:
            if isinstance(update, Exists):
                assert update.count >= len(self.uids), "EXISTS must never shrink the mailbox (RFC 3501 §7.3.1)"
                self.uids.extend([None] * (update.count - len(self.uids)))
            elif isinstance(update, Expunge):
                assert 1 <= update.seq <= len(self.uids)
                del self.uids[update.seq - 1]
            elif isinstance(update, FlagsUpdate):
                assert self.uids[update.seq - 1] in (None, update.uid)
                self.uids[update.seq - 1] = update.uid
                self.flags[update.uid] = update.flags

    def learn_uids(self, view: FolderView) -> None:
        """UID FETCH 1:* (UID): fill in what EXISTS announced, checking what the client already knew."""
        assert len(self.uids) == len(view.uids)
        for known, actual in zip(self.uids, view.uids, strict=True):
            assert known in (None, actual)
        self.uids = list(view.uids)


# -- the old delivery API -------------------------------------------------------------------------------------


def test_smtp_delivery_api_files_into_inbox_with_ascending_uids_and_remembers_first_copies() -> None:
    store = MailStore()
    box = store.create("Bob@Example.org")
    assert store.create("bob@example.org") is box and "BOB@example.org" in store and store.get("x@y") is None
    first = box.append(b"one", 10.0, "Q1", "<m@x>")
    second = box.append(b"two", 20.0, "Q2", "<m@x>", duplicate_of="Q1")
    assert [m.uid for m in box.messages] == [1, 2] and box.uidnext == 3
    assert box.first_copy("<m@x>") is first and box.first_copy("") is None
    assert second.duplicate_of == "Q1" and second.internal_date == 20.0 and second.size == 3
    assert box.uidvalidity == box.folder(INBOX).uidvalidity


# -- folders --------------------------------------------------------------------------------------------------


def test_inbox_always_exists_under_any_case_and_cannot_be_deleted() -> None:
    account = Account("bob")
    assert account.folder("inbox") is account.folder("InBoX") is account.inbox
    with pytest.raises(StoreError) as err:
        account.delete("Inbox")
    assert err.value.code == "CANNOT"
    with pytest.raises(StoreError) as err:
        account.create("inbox")
    assert err.value.code == "ALREADYEXISTS"


def test_create_makes_superiors_and_refuses_duplicates_and_wildcards() -> None:
    account = Account("bob")
    account.create("Work/2024/Q1/")  # a trailing delimiter only declares intent (RFC 3501 §6.3.3)
    assert {"Work", "Work/2024", "Work/2024/Q1"} <= set(account.folders)
    for bad in ("Work", "a*b", "a%b", "a//b", ""):
        with pytest.raises(StoreError):
            account.create(bad)


def test_delete_removes_a_leaf_and_turns_a_parent_into_noselect() -> None:
    account = Account("bob")
    account.create("Work/Old")
    account.deliver("Work", b"x", internal_date=1.0)
    account.delete("Work")
    assert not account.folders["Work"].selectable and not account.folders["Work"].messages
    assert "Work/Old" in account.folders
    assert [(e.name, e.noselect) for e in account.list_folders("", "Work*")] == [("Work", True), ("Work/Old", False)]
    with pytest.raises(StoreError):
        account.select("Work")
    with pytest.raises(StoreError) as err:
        account.delete("Work")  # \Noselect with inferiors (RFC 3501 §6.3.4)
    assert err.value.code == "CANNOT"
    account.delete("Work/Old")
    account.delete("Work")
    assert "Work" not in account.folders
    with pytest.raises(StoreError) as err:
        account.delete("Work")
    assert err.value.code == "NONEXISTENT"


def test_rename_moves_inferiors_and_keeps_messages_and_uidvalidity() -> None:
    account = Account("bob")
    account.create("A/B")
    uid = account.deliver("A/B", b"x", internal_date=1.0).uid
    validity = account.folder("A/B").uidvalidity
    account.rename("A", "X/Y")
    assert {"X", "X/Y", "X/Y/B"} <= set(account.folders) and "A" not in account.folders
    assert account.folder("X/Y/B").uidvalidity == validity and list(account.folder("X/Y/B").messages) == [uid]
    for old, new, code in (("nope", "Z", "NONEXISTENT"), ("X", "X/Y", "ALREADYEXISTS"), ("X", "X/Q", "CANNOT")):
        with pytest.raises(StoreError) as err:
            account.rename(old, new)
        assert err.value.code == code


def test_renaming_inbox_moves_its_messages_and_leaves_it_empty_with_uids_not_reused() -> None:
    account = account_with(2)
    account.create("INBOX/Sub")
    watcher = account.select(INBOX)
    before = account.messages
    account.rename("inbox", "Old")
    assert list(account.folder("Old").messages.values()) == before
    assert account.messages == [] and "INBOX/Sub" in account.folders  # INBOX's inferiors stay (RFC 3501 §6.3.5)
    assert watcher.pending() == [Expunge(1), Expunge(1)]
    assert deliver(account, 1) == [3]


def test_list_patterns_star_and_percent() -> None:
    names = ["INBOX", "Work", "Work/2024", "Work/2024/Q1", "Family"]
    assert match_pattern("*", "Work/2024/Q1") and not match_pattern("%", "Work/2024")
    assert match_pattern("Work/%", "Work/2024") and not match_pattern("Work/%", "Work/2024/Q1")
    assert match_pattern("inbox", "INBOX") and match_pattern("in%", "INBOX") and not match_pattern("work", "Work")
    assert list_names("", "%", names) == [("Family", False), ("INBOX", False), ("Work", False)]
    assert list_names("Work/", "*", names) == [("Work/2024", False), ("Work/2024/Q1", False)]
    assert list_names("", "W*4", names) == [("Work/2024", False)]
    # A trailing % also answers hierarchy levels that match though they are not names themselves (§6.3.8).
    assert list_names("", "%", ["Lists/rust"]) == [("Lists", True)]
    assert list_names("", "*", ["Lists/rust"]) == [("Lists/rust", False)]


def test_list_folders_reports_children_and_subscriptions_outlive_the_folder() -> None:
    account = Account("bob")
    account.create("Lists/rust")
    account.subscribe("Lists/rust")
    entries = {e.name: e for e in account.list_folders("", "*")}
    assert entries["Lists"].has_children and not entries["Lists/rust"].has_children
    account.delete("Lists/rust")
    # LSUB still answers a deleted name (RFC 3501 §6.3.6), and the unsubscribed level above as \Noselect.
    assert [(e.name, e.attributes) for e in account.list_subscribed("", "*")] == [("Lists/rust", ())]
    assert [(e.name, e.attributes) for e in account.list_subscribed("", "%")] == [("Lists", ("\\Noselect",))]
    account.unsubscribe("Lists/rust")
    assert account.list_subscribed("", "*") == []
    with pytest.raises(StoreError):
        account.unsubscribe("Lists/rust")
    with pytest.raises(StoreError):
        account.subscribe("Nowhere")


# -- UIDs and UIDVALIDITY -------------------------------------------------------------------------------------


def test_uids_ascend_and_are_never_reused_after_expunge() -> None:
    account = account_with(3)
    view = account.select(INBOX)
    view.store([3], FlagMode.ADD, [DELETED])
    assert view.expunge() == [3]
    assert deliver(account, 1) == [4]
    assert list(account.inbox.messages) == [1, 2, 4] and account.uidnext == 5


def test_uidvalidity_changes_when_a_folder_is_recreated() -> None:
    account = Account("bob")
    first = account.create("Trash").uidvalidity
    account.deliver("Trash", b"x", internal_date=1.0)
    account.delete("Trash")
    second = account.create("Trash")
    assert second.uidvalidity not in (first, account.uidvalidity)
    assert account.deliver("Trash", b"y", internal_date=2.0).uid == 1  # a new life may start UIDs over


def test_append_to_a_missing_folder_asks_for_trycreate_and_keeps_flags_and_date() -> None:
    account = Account("bob")
    with pytest.raises(StoreError) as err:
        account.deliver("Sent", b"x", internal_date=5.0)
    assert err.value.code == "TRYCREATE"
    account.create("Sent")
    stored = account.deliver("Sent", b"x", internal_date=5.0, flags=["\\SEEN", "$Label1"])
    folder = account.folder("Sent")
    assert folder.flags_of(stored.uid) == (SEEN, "$Label1") and stored.internal_date == 5.0
    assert folder.defined_flags[-1] == "$Label1" and folder.permanent_flags[-1] == "\\*"
    for bad in (RECENT, "\\Bogus", "has space"):
        with pytest.raises(StoreError):
            account.deliver("Sent", b"x", internal_date=5.0, flags=[bad])


# -- \Recent --------------------------------------------------------------------------------------------------


def test_recent_belongs_to_the_first_read_write_session_only() -> None:
    account = account_with(2)
    examine = account.select(INBOX, read_only=True)
    assert examine.recent_count == 2  # EXAMINE sees them recent but does not take them (RFC 3501 §6.3.2)
    first = account.select(INBOX)
    second = account.select(INBOX)
    assert (first.recent_count, second.recent_count) == (2, 0)
    assert RECENT in first.entry(1).flags and RECENT not in second.entry(1).flags
    assert account.status(INBOX).recent == 2
    first.close()
    assert account.status(INBOX).recent == 0 and account.select(INBOX).recent_count == 0


def test_mail_arriving_while_selected_is_recent_to_that_session() -> None:
    account = Account("bob")
    first, second = account.select(INBOX), account.select(INBOX)
    deliver(account, 1)
    assert first.pending() == [Exists(1), Recent(1)]
    assert second.pending() == [Exists(1), Recent(0)]
    first.close()
    assert account.select(INBOX).recent_count == 0


# -- what other sessions are told -----------------------------------------------------------------------------


def test_a_flag_change_reaches_the_other_session_as_fetch_flags_but_not_the_actor() -> None:
    account = account_with(3)
    actor, other = account.select(INBOX), account.select(INBOX)
    result = actor.store([2], FlagMode.ADD, [FLAGGED, "\\seen"])
    assert result == {2: (RECENT, FLAGGED, SEEN)}  # \Recent to the actor, which selected first
    assert actor.pending() == []  # the actor's client hears from the STORE reply, not as news
    assert other.pending() == [FlagsUpdate(2, 2, (FLAGGED, SEEN))]
    actor.store([2], FlagMode.REMOVE, [FLAGGED])
    actor.store([2], FlagMode.SET, [SEEN, "Work"])
    # Two changes to one message: one FETCH with its flags now; the new keyword arrives as FLAGS.
    assert other.pending() == [FlagsUpdate(2, 2, (SEEN, "Work")), FlagList((*account.inbox.defined_flags,))]
    assert "Work" in other.defined_flags


def test_expunges_reach_the_other_session_numbered_in_order() -> None:
    account = account_with(5)
    actor, other = account.select(INBOX), account.select(INBOX)
    actor.store([2, 3, 5], FlagMode.ADD, [DELETED])
    assert actor.expunge() == [2, 3, 5]
    # After 2 goes, 3 is number 2; after that, 5 is number 3 (RFC 3501 §7.4.1).
    assert other.pending() == [Expunge(2), Expunge(2), Expunge(3)]
    assert other.uids == [1, 4] and actor.pending() == [Expunge(2), Expunge(2), Expunge(3)]
    assert actor.uids == [1, 4]


def test_flag_changes_and_expunges_interleave_in_the_order_they_happened() -> None:
    account = account_with(5)
    actor, other = account.select(INBOX), account.select(INBOX)
    actor.store([2], FlagMode.ADD, [DELETED])
    actor.expunge()
    actor.store([4], FlagMode.ADD, [FLAGGED])
    actor.store([5], FlagMode.ADD, [DELETED])
    # 4 was number 4 before 2 went, 3 after; 5 likewise.
    assert other.pending() == [Expunge(2), FlagsUpdate(3, 4, (FLAGGED,)), FlagsUpdate(4, 5, (DELETED,))]
    actor.expunge()
    assert other.pending(allow_expunge=False) == []
    assert other.pending() == [Expunge(4)] and other.uids == [1, 3, 4]


def test_new_mail_is_announced_as_exists_and_expunge_waits_when_not_allowed() -> None:
    account = account_with(3)
    actor, other = account.select(INBOX), account.select(INBOX)
    actor.store([1], FlagMode.ADD, [DELETED])
    actor.expunge()
    deliver(account, 1, at=100.0)
    # During a FETCH without UID, EXPUNGE must wait (RFC 3501 §7.4.1); EXISTS may go.
    assert other.pending(allow_expunge=False) == [Exists(4), Recent(0)]
    assert other.uids == [1, 2, 3, 4] and other.entry(1).expunged and other.entry(2).uid == 2
    assert other.entry(1).message.content.startswith(b"Subject: 0")  # still answerable (RFC 2180 §4.1)
    assert other.pending(allow_expunge=False) == []
    assert other.pending(allow_expunge=True) == [Expunge(1)]
    assert other.uids == [2, 3, 4] and not other.has_pending


def test_lookups_by_sequence_and_uid_sets_within_a_view() -> None:
    account = account_with(5)
    view = account.select(INBOX)
    view.store([2, 4], FlagMode.ADD, [DELETED])
    view.expunge()
    view.pending()
    assert view.uids == [1, 3, 5]
    assert [e.uid for e in view.by_sequence([(2, None)])] == [3, 5]
    assert [e.seq for e in view.by_sequence([(3, 1), (2, 2), (9, 9)])] == [1, 2, 3]
    assert [(e.seq, e.uid) for e in view.by_uid([(2, 4)])] == [(2, 3)]
    assert [e.uid for e in view.by_uid([(100, None)])] == [5]  # n:* always includes the last (RFC 3501 §6.4.8)
    assert view.seq_of(5) == 3 and view.seq_of(4) is None and view.uid_of(2) == 3
    with pytest.raises(IndexError):
        view.entry(4)


def test_read_only_view_changes_nothing() -> None:
    account = account_with(1)
    view = account.select(INBOX, read_only=True)
    assert view.mark_seen([1]) == [] and SEEN not in account.inbox.flags[1]
    assert view.permanent_flags == ()
    with pytest.raises(StoreError):
        view.store([1], FlagMode.ADD, [SEEN])
    with pytest.raises(StoreError):
        view.expunge()
    writer = account.select(INBOX)
    assert writer.recent_count == 1  # EXAMINE left \Recent for the first read-write session
    assert writer.mark_seen([1]) == [1] and writer.mark_seen([1]) == []
    assert view.pending() == [FlagsUpdate(1, 1, (RECENT, SEEN))]


def test_select_reports_first_unseen_and_status_counts() -> None:
    account = account_with(4)
    view = account.select(INBOX)
    view.store([1, 2], FlagMode.ADD, [SEEN])
    assert view.first_unseen == 3
    status = account.status("inbox")
    assert (status.messages, status.recent, status.unseen) == (4, 4, 2)
    assert (status.uidnext, status.uidvalidity) == (5, account.uidvalidity)


def test_deleting_a_selected_folder_expunges_everything_for_its_sessions() -> None:
    account = Account("bob")
    account.create("Work")
    account.deliver("Work", b"a", internal_date=1.0)
    view = account.select("Work")
    account.delete("Work")
    assert view.folder_deleted and view.pending() == [Expunge(1)]
    with pytest.raises(StoreError) as err:
        view.store([1], FlagMode.ADD, [SEEN])
    assert err.value.code == "NONEXISTENT"


# -- COPY and MOVE --------------------------------------------------------------------------------------------


def test_copy_returns_the_uid_map_and_keeps_flags_and_dates() -> None:
    account = account_with(3)
    account.create("Archive")
    account.deliver("Archive", b"old", internal_date=0.0)
    view = account.select(INBOX)
    view.store([3], FlagMode.ADD, [FLAGGED])
    watching = account.select("Archive")
    result = view.copy([3, 1, 99], "Archive")
    archive = account.folder("Archive")
    assert result.mapping == {1: 2, 3: 3} and result.uidvalidity == archive.uidvalidity
    assert archive.messages[3].content == account.inbox.messages[3].content
    assert archive.messages[3].internal_date == account.inbox.messages[3].internal_date
    assert archive.flags_of(3) == (FLAGGED,)
    # The copies are \Recent (RFC 3501 §6.4.7), to the session that has Archive selected.
    assert watching.pending() == [Exists(3), Recent(3)] and RECENT in watching.entry(3).flags
    assert list(account.inbox.messages) == [1, 2, 3]
    with pytest.raises(StoreError) as err:
        view.copy([1], "Missing")
    assert err.value.code == "TRYCREATE"


def test_move_expunges_the_originals_for_every_session_including_its_own() -> None:
    account = account_with(4)
    account.create("Archive")
    moved = [account.inbox.messages[2].content, account.inbox.messages[4].content]
    actor, other = account.select(INBOX), account.select(INBOX)
    result = actor.move([2, 4], "Archive")
    assert result.mapping == {2: 1, 4: 2}
    assert list(account.inbox.messages) == [1, 3]
    assert actor.pending() == [Expunge(2), Expunge(3)] == other.pending()
    assert [m.content for m in account.folder("Archive").messages.values()] == moved


# -- POP3 -----------------------------------------------------------------------------------------------------


def test_pop3_lock_is_exclusive_and_unique_ids_are_stable() -> None:
    account = account_with(2)
    drop = account.lock_maildrop("pop-1")
    with pytest.raises(StoreError) as err:
        account.lock_maildrop("pop-2")
    assert err.value.code == "IN-USE"
    ids = [e.unique_id for e in drop.entries]
    assert [e.number for e in drop.entries] == [1, 2] and len(set(ids)) == 2
    account.unlock_maildrop("pop-2")  # not the holder: the lock stays
    with pytest.raises(StoreError):
        account.lock_maildrop("pop-3")
    account.unlock_maildrop("pop-1")
    deliver(account, 1)
    again = account.lock_maildrop("pop-3")
    assert [e.unique_id for e in again.entries][:2] == ids and len(again.entries) == 3


def test_pop3_deletion_reaches_imap_sessions_as_expunges_and_releases_the_lock() -> None:
    account = account_with(3)
    view = account.select(INBOX)
    drop = account.lock_maildrop("pop")
    view.store([3], FlagMode.ADD, [DELETED])
    view.expunge()  # IMAP removes message 3 while POP3 still lists it
    wanted = [drop.entries[0].unique_id, drop.entries[2].unique_id]
    with pytest.raises(StoreError):
        account.delete_from_maildrop("intruder", wanted)
    assert account.delete_from_maildrop("pop", wanted) == [drop.entries[0].unique_id]
    assert list(account.inbox.messages) == [2] and account.maildrop_holder is None
    assert view.pending() == [Expunge(3), Expunge(1)] and view.uids == [2]


# -- checkpoints ----------------------------------------------------------------------------------------------


def test_a_store_with_live_views_survives_pickling() -> None:
    store = MailStore()
    account = store.create("bob@example.org")
    deliver(account, 3)
    view = account.select(INBOX)
    other = account.select(INBOX)
    view.store([1], FlagMode.ADD, [DELETED])
    view.expunge()
    deliver(account, 1)
    account.lock_maildrop("pop")

    copy = pickle.loads(pickle.dumps((store, other)))
    copied_store, copied_other = copy
    copied_account = copied_store.get("bob@example.org")
    assert copied_account is not None
    assert copied_other in copied_account.inbox.views and copied_other.account is copied_account
    assert copied_other.pending() == [Expunge(1), Exists(3), Recent(0)]
    assert other.has_pending  # the original is untouched
    deliver(copied_account, 1)
    assert copied_other.pending() == [Exists(4), Recent(0)] and copied_account.uidnext == 6
    assert account.uidnext == 5 and copied_account.maildrop_holder == "pop"


# -- a property: every view's numbering stays true to the folder ---------------------------------------------


class TwoSessions(RuleBasedStateMachine):
    """Deliveries, flag changes, expunges and flushes in any order, seen from two sessions."""

    def __init__(self) -> None:
        super().__init__()
        self.account = account_with(2)
        self.views = [self.account.select(INBOX), self.account.select(INBOX)]
        self.clients = [Client(v) for v in self.views]

    @rule(n=st.integers(1, 3))
    def deliver(self, n: int) -> None:
        deliver(self.account, n)

    @rule(
        who=st.integers(0, 1),
        picks=st.lists(st.integers(0, 20), max_size=4),
        mode=st.sampled_from(FlagMode),
        flags=st.sampled_from([[DELETED], [DELETED, "$Label"], [SEEN], []]),
    )
    def store(self, who: int, picks: list[int], mode: FlagMode, flags: list[str]) -> None:
        view = self.views[who]
        uids = [view.uids[i % len(view.uids)] for i in picks] if view.uids else []
        view.store(uids, mode, flags)

    @rule(pick=st.integers(0, 20))
    def pop3_delete(self, pick: int) -> None:
        drop = self.account.lock_maildrop("pop")
        chosen = [drop.entries[pick % len(drop.entries)].unique_id] if drop.entries else []
        assert self.account.delete_from_maildrop("pop", chosen) == chosen

    @rule(who=st.integers(0, 1))
    def expunge(self, who: int) -> None:
        removed = self.views[who].expunge()
        assert all(uid not in self.account.inbox.messages for uid in removed)

    @rule(who=st.integers(0, 1), allow=st.booleans())
    def flush(self, who: int, allow: bool) -> None:
        view, client = self.views[who], self.clients[who]
        updates = view.pending(allow_expunge=allow)
        if not allow:
            assert not any(isinstance(u, Expunge) for u in updates)
        client.apply(updates)
        client.learn_uids(view)
        for update in updates:
            seq = view.seq_of(update.uid) if isinstance(update, FlagsUpdate) else None
            if isinstance(update, FlagsUpdate) and seq is not None and not view.entry(seq).expunged:
                assert update.flags == view.entry(seq).flags
        if allow:
            assert view.uids == list(self.account.inbox.messages)

    @invariant()
    def maps_are_ascending_and_cover_the_folder(self) -> None:
        for view in self.views:
            assert view.uids == sorted(set(view.uids))
            unseen = [u for u in self.account.inbox.messages if u not in view.uids]
            assert all(u > max(view.uids, default=0) for u in unseen)  # only new mail can be missing

    @invariant()
    def each_message_is_recent_to_one_session_at_most(self) -> None:
        first, second = (v.recent & self.account.inbox.messages.keys() for v in self.views)
        assert not first & second and not (first | second) & self.account.inbox.unclaimed

    def teardown(self) -> None:
        for who in (0, 1):
            self.flush(who, allow=True)
        assert self.views[0].uids == self.views[1].uids == list(self.account.inbox.messages)


TwoSessions.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_two_sessions_keep_true_sequence_maps = TwoSessions.TestCase
