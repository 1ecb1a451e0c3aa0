"""Live keyboards: no button stays live in an installer's chat but the current question's.

Every message the bot sends for a job with inline buttons is noted on the job (`keyboards`,
committed as soon as it is sent). Once a new question or a new set of buttons is out, or the
job is closed, the others are stale: the handlers take their buttons away and report them
gone. An interruption in between leaves them noted, so the next answer or the start-up takes
them away then. The engine refuses a press on old buttons anyway (`job.stale_button`).
"""

from __future__ import annotations

from bot.store import OPEN, LiveKeyboards, Store


class Keyboards:
    """Which of a job's messages still carry live buttons."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def shown(self, job_id: int, message_id: int) -> None:
        """A message with buttons was sent for the job."""
        job = await self.store.job(job_id)
        if job is not None and message_id not in job.keyboards:
            await self.store.update_job(job_id, keyboards=[*job.keyboards, message_id])

    async def stale(self, job_id: int, fresh: list[int], asked: bool,
                    live: LiveKeyboards | None = None) -> list[int]:
        """The job's messages whose buttons must go now: all of them once the job is closed;
        once a question (`asked`) or new buttons (`fresh`) went out, all but those and the
        current question's. `live`: the job's keyboards as just stored (else read)."""
        if live is None:
            job = await self.store.job(job_id)
            if job is None:
                return []
            live = LiveKeyboards(job.status, job.prompt_message_id, job.keyboards, None)
        if live.status != OPEN:
            return list(live.message_ids)
        if not (fresh or asked):
            return []
        return [m for m in live.message_ids if m not in fresh and m != live.prompt_message_id]

    async def retired(self, job_id: int, message_ids: list[int],
                      live: LiveKeyboards | None = None) -> None:
        """These messages' buttons are gone (or could not be edited any more); `live`: the
        job's keyboards as last read (written back without them unless changed since)."""
        if not message_ids:
            return
        if live is not None and live.stored is not None:
            left = [m for m in live.message_ids if m not in message_ids]
            if await self.store.set_keyboards(job_id, left, was=live):
                return
        job = await self.store.job(job_id)
        if job is not None:
            await self.store.set_keyboards(job_id, [m for m in job.keyboards
                                                    if m not in message_ids])

    async def leftovers(self) -> list[tuple[int, int, list[int]]]:
        """At start: (chat, job, messages) whose buttons an interruption left live — every
        one of a closed job; of an open job all but its newest and its question's."""
        found = []
        for job in await self.store.jobs_with_keyboards():
            keep = set() if job.status != OPEN else {job.keyboards[-1], job.prompt_message_id}
            stale = [m for m in job.keyboards if m not in keep]
            if stale:
                found.append((job.chat_id, job.id, stale))
        return found
