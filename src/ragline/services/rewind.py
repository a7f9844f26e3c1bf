"""Rewind a thread to before one of its messages (regenerate, or edit and resend)."""

from __future__ import annotations

from ragline.services.run_store import RunStore


async def rewind_thread(store: RunStore, owner_id: str, thread_id: str, message_id: str) -> int:
    """Delete `message_id` and every later message of the thread, with their runs and events.

    Refused with `run_active` while a run of the thread is queued or running (cancel it first).
    Returns how many messages went. The run store does it, under the thread's lock.
    """
    return await store.rewind(owner_id, thread_id, message_id)
