"""The Discord layer: translates between Discord and the answer engine, nothing more.

client      NewsBot, loading its services, `run_bot` / `sync_commands` (the entry points)
services    the services object every cog gets in its constructor
commands    /ask, /latest, /sources, /status          maintainers  /feeds add|remove, /reindex
chat        mentions, replies and thread follow-ups   servers      leaving servers not served
feedback    👍/👎 buttons                              progress     a job's progress as edits
store       the answers the bot sent and the feedback on them (its own SQLite file)
alerts      feed health changes in the maintainers' channel
subscriptions  digests and watches as a service: digests (the scheduler), watches (matching,
            delivery); subscription_commands  /digest, /watch; subscription_store  their tables
errors      refusals and failures as replies          replies      sending messages
cooldown    the cooldown check (@cooldown) and its refund rule, for the cogs that use it
Pure modules, tested without Discord: access (who may do what, how often), conversation
(addressing, answer records, history), jobs (ingest jobs, progress text), layout (Discord's
limits: payloads, lengths, splitting), render (answers, feeds, status), render_stories and
render_models (embeds).

Background work (the ingest schedule in jobs, alerts, subscriptions) runs in discord.ext.tasks
loops whose before_loop waits until the bot is ready.

Nothing is imported here, so `import bot.discord.store` (for `newsbot feedback`) loads only
what that module needs."""
